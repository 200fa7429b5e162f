"""The report parser in a worker process that is killed at its deadline: a hard bound on one parse's wall time.

The parser's own time limit (`ParseHints.time_limit`) is cooperative: it is
checked between steps, so one step that runs long on hostile input (a huge
MIME tree in the stdlib's email parser, a regex over a pathological line)
overruns it. Here each parse runs in a child process; when no answer has come
`grace` seconds after the cooperative limit, the child is killed (SIGKILL,
so nothing in it can delay that) and `ParseTimeout` is raised: ingest then
quarantines the message as `parse_timeout`, never drops it and never marks it
processed without its events.

Workers are kept and reused (a parse costs one round trip over a pipe, not a
process start). A process with one thread forks its worker (cheap, and safe
with no other thread); a process with threads (the daemon: its store writer,
its `to_thread` pool) starts workers from a fork server that has imported
the parser and nothing else, since forking a threaded process can copy a lock
some other thread holds.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess

from maild import liblogs, logs
from maild.reports import ParseHints, Report, parse

GRACE = 0.5  # seconds past the cooperative limit before the worker is killed
_START_TIMEOUT = 30.0  # a worker that cannot even start (a machine out of processes) is a failure, not a timeout
_KEEP_IDLE = 2


class ParseTimeout(Exception):
    """The parse was still running at its hard deadline; the worker was killed."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the parse took longer than {seconds:.1f} s")
        self.seconds = round(seconds, 3)


class ParseWorkerFailed(Exception):
    """The worker died or could not start (killed from outside, out of memory): the message is held as unparseable."""


Target = Callable[[bytes, ParseHints], Report]


def _serve(conn: Connection, target: Target) -> None:
    """The worker's loop: (raw, hints) in, the Report out, until the pipe closes."""
    if logs.current_format() is None:  # a fork server's child: nothing configured; a forked one keeps its parent's
        logs.configure("warning", "json")
    liblogs.route_command_output()  # flufl.bounce's and tnefparse's log records and warnings as JSON lines
    conn.send("ready")
    while True:
        try:
            raw, hints = conn.recv()
        except (EOFError, OSError):
            return
        conn.send(target(raw, hints))  # parse() never raises: bad mail is a Report with problems


class _Worker:
    def __init__(self, ctx: BaseContext, target: Target) -> None:
        self.conn, child = ctx.Pipe(duplex=True)
        self.process: BaseProcess = ctx.Process(  # type: ignore[attr-defined]
            target=_serve, args=(child, target), daemon=True, name="maild-parse"
        )
        self.process.start()
        child.close()
        if not self.conn.poll(_START_TIMEOUT):
            self.kill()
            raise ParseWorkerFailed("the parse worker did not start")
        try:
            self.conn.recv()
        except (EOFError, OSError) as exc:
            self.kill()
            raise ParseWorkerFailed("the parse worker died at start") from exc

    def run(self, raw: bytes, hints: ParseHints, seconds: float) -> Report:
        try:
            self.conn.send((raw, hints))
            if not self.conn.poll(seconds):
                raise ParseTimeout(seconds)
            report = self.conn.recv()
        except (EOFError, OSError) as exc:
            raise ParseWorkerFailed(f"the parse worker died (exit code {self.process.exitcode})") from exc
        if not isinstance(report, Report):
            raise ParseWorkerFailed("the parse worker answered something other than a report")
        return report

    def kill(self) -> None:
        self.conn.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)


class WorkerParser:
    """Called like `maild.reports.parse(raw, hints)`; raises ParseTimeout past `hints.time_limit + grace` seconds.

    Safe to call from several threads at once: each call takes its own worker.
    """

    def __init__(self, *, grace: float = GRACE, target: Target = parse) -> None:
        """`target`: the parse function the worker runs, a module-level function (the fork server imports it by name)."""
        self.grace = grace
        self.target = target
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()

    def deadline(self, hints: ParseHints) -> float:
        """The hard limit, in seconds, for a parse under these hints."""
        return hints.time_limit + self.grace

    def __call__(self, raw: bytes, hints: ParseHints) -> Report:
        worker = self._take()
        try:
            report = worker.run(raw, hints, self.deadline(hints))
        except BaseException:
            worker.kill()  # killed at the deadline, or in an unknown state: never reused
            raise
        self._give_back(worker)
        return report

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.kill()

    def _take(self) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.process.is_alive():
                    return worker
                worker.kill()
        return _Worker(_context(), self.target)

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            if len(self._idle) < _KEEP_IDLE:
                self._idle.append(worker)
                return
        worker.kill()


def _context() -> BaseContext:
    if threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["maild.reports"])
    return ctx
