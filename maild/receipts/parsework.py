"""The report parser in a worker process that is killed at its deadline: a hard bound on one parse's CPU time.

The parser's own time limit (`ParseHints.time_limit`) is cooperative: it is
checked between steps, so one step that runs long on hostile input (a huge
MIME tree in the stdlib's email parser, a regex over a pathological line)
overruns it. Here each parse runs in a child process; when the child has used
`grace` seconds of CPU past the cooperative limit without answering, it is
killed (SIGKILL, so nothing in it can delay that) and `ParseTimeout` is
raised: ingest then quarantines the message as `parse_timeout`, never drops it
and never marks it processed without its events.

Both limits count CPU time, not wall time: on a busy machine (other processes
taking the cores) a normal report's parse takes longer on the clock, and was
quarantined as `parse_timeout` when the deadline was wall time. A worker that
gets no CPU at all is still bounded: WALL_CAP times the deadline on the clock
(at least MIN_WALL_CAP seconds). Where a child's CPU time cannot be read (no
/proc), the deadline is wall time as before.

Workers are kept and reused (a parse costs one round trip over a pipe, not a
process start), and the round trip is kept lean: the worker's answer carries
its own CPU time (`os.times`, the same kernel counters /proc shows), so a parse
answered within its deadline on the clock reads no /proc file; the hints go
over the pipe only when they change; one `select.poll` per worker is reused. A process with one thread (`maild ingest`) forks its worker:
cheap, and safe with no other thread. A process with threads (the daemon:
its store writer, its `to_thread` pool) starts a new interpreter running this
module instead, since forking a threaded process can copy a lock another
thread holds.
"""

from __future__ import annotations

import _thread
import importlib
import os
import select
import sys
import time
from collections.abc import Callable

from maild import liblogs, logs
from maild.errors import TransientError
from maild.reports import ParseHints, Report, parse

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)

if TYPE_CHECKING:  # multiprocessing, socket and subprocess load when a worker starts: `maild parse` imports this module
    import subprocess
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

def one_thread() -> bool:
    """Whether this process runs its main thread alone, so that forking it is safe.

    _thread counts every thread started (threading's too) but the main one; threading, when it is loaded, also
    counts the threads it was told of. A command need not import threading to ask (`maild parse`, `ingest`).
    """
    threading = sys.modules.get("threading")
    return _thread._count() == 0 and (threading is None or threading.active_count() == 1)


GRACE = 0.5  # seconds of CPU past the cooperative limit before the worker is killed
WALL_CAP = 20.0  # a parse that used little CPU (a machine that gave it none) is killed after this many deadlines...
MIN_WALL_CAP = 60.0  # ...or this many seconds on the clock, whichever is longer
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_START_TIMEOUT = 30.0  # a worker that cannot even start (a machine out of processes) is a failure, not a timeout


class ParseTimeout(Exception):
    """The parse was still running at its hard deadline; the worker was killed."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the parse took longer than {seconds:.1f} s")
        self.seconds = round(seconds, 3)


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a running process has used, from /proc; None where it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat.rpartition(b")")[2].split()  # after the command name, which may hold spaces and parentheses
    try:
        return (int(fields[11]) + int(fields[12])) / _TICK  # utime and stime: fields 14 and 15 of proc(5)
    except (IndexError, ValueError):
        return None


def own_cpu_seconds() -> float:
    """This process's CPU time (user + system, all threads) from the counters `cpu_seconds` reads for another."""
    t = os.times()
    return t.user + t.system


class CpuDeadline:
    """One parse's deadline in the CPU time of the process doing it, bounded on the clock (module docstring).

    `base` and `started`: the process's CPU time and the clock when the parse began, when the caller knows them
    (a worker reports its CPU time with each answer); by default both are read now.
    """

    def __init__(self, pid: int, seconds: float, *, base: float | None = None, started: float | None = None) -> None:
        self.pid, self.seconds = pid, seconds
        self.started = time.monotonic() if started is None else started
        self.base = cpu_seconds(pid) if base is None else base
        self.cap = max(seconds * WALL_CAP, MIN_WALL_CAP) if self.base is not None else seconds

    def remaining(self) -> float:
        """How long to wait before looking again; 0.0 once the deadline is spent."""
        elapsed = time.monotonic() - self.started
        now = cpu_seconds(self.pid) if self.base is not None else None
        used = now - self.base if now is not None and self.base is not None else elapsed
        if used >= self.seconds or elapsed >= self.cap:
            return 0.0
        # one thread: its CPU time grows no faster than the clock, so the budget cannot run out before then
        return max(0.01, min(self.seconds - used, self.cap - elapsed))


class ParseWorkerFailed(Exception):
    """The worker died while parsing (killed from outside, out of memory on this input): held as unparseable."""


class ParseWorkerUnavailable(TransientError):
    """No worker could be started (the machine is out of processes or memory): nothing is recorded, try again later."""


Target = Callable[[bytes, ParseHints], Report]


def _serve(conn: Connection, target: Target) -> None:
    """The worker's loop until the pipe closes: (raw, hints) in, or raw alone under the same hints as before;
    (the Report, this process's CPU time) out. The first message out is ("ready", CPU time)."""
    if logs.current_format() is None:  # a fork server's child: nothing configured; a forked one keeps its parent's
        logs.configure("warning", "json")
    liblogs.route_command_output()  # flufl.bounce's and tnefparse's log records and warnings as JSON lines
    hints = ParseHints()
    conn.send(("ready", own_cpu_seconds()))
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if isinstance(request, bytes):
            raw = request
        else:
            raw, hints = request
        report = target(raw, hints)  # parse() never raises: bad mail is a Report with problems
        conn.send((report, own_cpu_seconds()))  # the CPU time the next parse's deadline counts from


class _Worker:
    """One worker process and its end of the pipe: a fork of this process, or a new interpreter (`python -m` this module)."""

    def __init__(self, target: Target) -> None:
        self._forked: BaseProcess | None = None
        self._spawned: subprocess.Popen[bytes] | None = None
        self._hints: ParseHints | None = None  # the hints the worker holds (sent with the first parse under them)
        self._cpu: float | None = None  # the worker's CPU time at its last answer: where the next parse starts
        try:
            self._start(target)
        except OSError as exc:  # fork or exec refused: EAGAIN, ENOMEM
            raise ParseWorkerUnavailable(f"no parse worker: {exc.strerror or exc}") from exc
        self._poll = select.poll()
        self._poll.register(self.conn.fileno(), select.POLLIN)
        self._check_started()

    def _start(self, target: Target) -> None:
        import multiprocessing
        from multiprocessing.connection import Connection

        if one_thread():
            ctx = multiprocessing.get_context("fork")
            self.conn, child = ctx.Pipe(duplex=True)
            self._forked = ctx.Process(target=_serve, args=(child, target), daemon=True, name="maild-parse")
            self._forked.start()
            child.close()
        else:
            # Not multiprocessing's spawn or forkserver: both run the parent's __main__ again in the child, and
            # `python -m maild` has no guard (it would start the command, `maild run` included, in the worker).
            import socket
            import subprocess

            ours, theirs = socket.socketpair()
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
            self._spawned = subprocess.Popen(
                [sys.executable, "-m", "maild.receipts.parsework", str(theirs.fileno()), _name_of(target)],
                pass_fds=(theirs.fileno(),), env=env, stdin=subprocess.DEVNULL,
            )
            theirs.close()
            self.conn = Connection(ours.detach())

    def _check_started(self) -> None:
        if not self._ready_within(_START_TIMEOUT):
            self.kill()
            raise ParseWorkerUnavailable("the parse worker did not start")
        try:
            _, self._cpu = self.conn.recv()
        except (EOFError, OSError, TypeError, ValueError) as exc:
            self.kill()
            raise ParseWorkerUnavailable("the parse worker died at start") from exc

    def _ready_within(self, seconds: float) -> bool:
        """Whether the worker's answer (or its end: EOF) can be read within `seconds` on the clock."""
        return bool(self._poll.poll(max(0, int(seconds * 1000 + 0.999))))

    @property
    def alive(self) -> bool:
        if self._forked is not None:
            return self._forked.is_alive()
        return self._spawned is not None and self._spawned.poll() is None

    @property
    def pid(self) -> int | None:
        if self._forked is not None:
            return self._forked.pid
        return self._spawned.pid if self._spawned is not None else None

    def _answered_within(self, seconds: float, sent: float) -> bool:
        """Wait for the answer while the worker has used less than `seconds` of CPU on this parse (module docstring).

        The first wait is `seconds` on the clock: one thread's CPU time grows no faster than the clock, so the
        deadline cannot be spent before; only a parse still running then has its CPU time read from /proc.
        """
        if self._ready_within(seconds):
            return True
        pid = self.pid
        if pid is None:
            return False
        deadline = CpuDeadline(pid, seconds, base=self._cpu, started=sent)
        while wait := deadline.remaining():
            if self._ready_within(wait):
                return True
        return False

    def run(self, raw: bytes, hints: ParseHints, seconds: float) -> Report:
        try:
            sent = time.monotonic()
            same = hints is self._hints or hints == self._hints
            self.conn.send(raw if same else (raw, hints))
            self._hints = hints
            if not self._answered_within(seconds, sent):
                raise ParseTimeout(seconds)
            answer = self.conn.recv()
        except (EOFError, OSError) as exc:
            raise ParseWorkerFailed("the parse worker died") from exc
        report, cpu = answer if isinstance(answer, tuple) and len(answer) == 2 else (answer, None)
        if not isinstance(report, Report) or not isinstance(cpu, float):
            raise ParseWorkerFailed("the parse worker answered something other than a report")
        self._cpu = cpu
        return report

    def kill(self) -> None:
        self.conn.close()
        if self._forked is not None:
            if self._forked.is_alive():
                self._forked.kill()
            self._forked.join(5)
        if self._spawned is not None:
            if self._spawned.poll() is None:
                self._spawned.kill()
            self._spawned.wait(5)


def _name_of(target: Target) -> str:
    return f"{target.__module__}:{target.__qualname__}"


def _target_named(name: str) -> Target:
    module, _, qualname = name.partition(":")
    found: Target = getattr(importlib.import_module(module), qualname)
    return found


class WorkerParser:
    """Called like `maild.reports.parse(raw, hints)`; raises ParseTimeout past `hints.time_limit + grace` seconds.

    Safe to call from several threads at once: each call takes its own worker.
    """

    def __init__(self, *, grace: float = GRACE, target: Target = parse, workers: int | None = None) -> None:
        """`target`: the parse function the worker runs, a module-level function (a new interpreter imports it by name).

        `workers`: most parses at once (default: the CPU count); a further caller waits for a worker, and its
        deadline starts when its parse does. The workers are kept between parses.
        """
        self.grace = grace
        self.target = target
        self.workers = workers or os.cpu_count() or 2
        import threading  # the daemon's pool: `maild parse` and `ingest` import this module but start no thread

        self._slots = threading.BoundedSemaphore(self.workers)
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()

    def deadline(self, hints: ParseHints) -> float:
        """The hard limit, in seconds, for a parse under these hints."""
        return hints.time_limit + self.grace

    def __call__(self, raw: bytes, hints: ParseHints) -> Report:
        with self._slots:  # the sources ingest a batch at once: as many workers as cores, not one per message
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
                if worker.alive:
                    return worker
                worker.kill()
        return _Worker(self.target)

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            if len(self._idle) < self.workers:
                self._idle.append(worker)
                return
        worker.kill()


if __name__ == "__main__":  # a worker started by a process with threads: `python -m maild.receipts.parsework FD TARGET`
    from multiprocessing.connection import Connection

    _serve(Connection(int(sys.argv[1])), _target_named(sys.argv[2]))
