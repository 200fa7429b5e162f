"""A list of parses run in order in one forked child that is killed at each item's deadline: `maild parse`'s hard limit.

`parsework.WorkerParser` is for callers that parse one message at a time from
several threads (the daemon, ingest); it costs a round trip per message (0.53×
of in-process). A command that parses a known list in order needs no round
trip: one child, forked after the imports, loads and parses the items itself
and streams each finished line back through a pipe, while the parent only
relays the lines and watches the deadline of the item in progress. The child
writes a mark line when an item is loaded and its parse starts (loading a
file or standard input is not parse time), holding its own CPU time then, and
the item's line when it is done. The deadline counts the child's CPU time, as
parsework's does (a loaded machine that gives the parse no CPU does not make
an ordinary file time out), bounded on the clock by parsework's WALL_CAP; the
mark's CPU time is the deadline's base, so the parent reads the child's /proc
counters only when an item has run long. When the caller says an item's load
returns at once (a file, not standard input), the child sends the previous
item's line with the next item's mark, in one write: one wake-up of the parent
per item instead of two (over the Sisimai set, the parent's relay was a fifth
of its whole CPU time), at the cost of holding that line back for one file
read. An item that has used its
deadline gets the child SIGKILLed (nothing in it can delay that), is reported
as `ParseTimeout`, and a fresh child is forked for the items after it. The
child also arms a CPU timer of its own per item (`_ORPHAN_SLACK` past the
deadline; SIGPROF's default action ends it), so a child whose parent died or
stopped reading never runs on.

`lanes` > 1 runs that many children side by side, item i in lane i % lanes
(round robin: neighbouring files are alike in size, so no lane runs far
ahead), each lane its own child with the same deadlines, and the parent
yields the lines in item order. While the parent waits on one lane, another
lane's item past its deadline is ended by that child's own CPU timer
(`_ORPHAN_SLACK` later) and reported as the same ParseTimeout when its turn
comes; a lane that lost its child gets a fresh one for its next item at once.
A lane that has run ahead blocks on its full pipe until the parent reads it.

Each child would pay the parser's first-use imports again (the detectors imported on their first call,
flufl.bounce: `reports.firstuse`); with two lanes or more, `prepare` does them once in the parent before the
first fork, and the children inherit them. It is given no item: every file is still read and parsed only in a
child, under its deadline. One lane (one file, `maild ingest`) never calls it: its child pays them only if its
parse needs them, as before.

Forking is safe only in a process with one thread (parsework says why), so
`stream` refuses to start in any other.

`OneShotParser` is the same child for one message whose Report the caller needs
(`maild ingest`, one process per receipt when an MTA pipes to it): the child
sends the Report in its line as marshal bytes (`receipts.reportwire`). It spares that command parsework's pool of
kept workers, whose multiprocessing import (with pickle, subprocess, tempfile,
shutil and the compressors) was a fifth of its start-up, for a single parse.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import time
from collections.abc import Callable, Generator, Iterator
from types import FrameType

from maild import logs
from maild.receipts.parsework import GRACE, CpuDeadline, one_thread, own_cpu_seconds, ParseTimeout, ParseWorkerFailed, ParseWorkerUnavailable, Target
from maild.reports import ParseHints, Report, parse

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)
if TYPE_CHECKING:
    from typing import Generic, NoReturn, TypeVar
else:
    from maild.core.hints import Generic, TypeVar

T = TypeVar("T")
_log = logs.get("parse")
_ORPHAN_SLACK = 1.0  # seconds past the deadline after which a child ends itself (its parent is gone or not reading)
# Each line the child writes starts with its kind: an item's answer, or "item loaded, parse started" followed by the
# child's CPU seconds then (repr of a float).
_ANSWER = b"="
_MARK = b"@"


def stream(
    count: int, load: Callable[[int], T], work: Callable[[T], str], deadline: float,
    *, instant: Callable[[int], bool] | None = None, lanes: int = 1, prepare: Callable[[], None] | None = None,
) -> Generator[str | ParseTimeout | ParseWorkerFailed, None, None]:
    """For items 0..count-1 in order: `work(load(i))` (one line, no newline), or why it has none.

    `instant(i)`: whether `load(i)` returns at once (reads a file; standard input may wait for its writer): the
    line of item i-1 is then sent with item i's start (module docstring). Without it every line is sent as soon as
    it is made.

    Run in a forked child; `work` past `deadline` seconds of CPU time is killed with its child and yields
    ParseTimeout; a child that dies otherwise (out of memory) yields ParseWorkerFailed for the item it was on.
    SIGTERM of this process while it runs kills the child and exits 143; so does Ctrl-C (the terminal
    signals both; KeyboardInterrupt here). No child is left when the iterator ends or is closed.

    `lanes`: how many children parse side by side (module docstring); at most `count`, and 1 unless every
    load is `instant` (two children must not race for standard input).

    `prepare`: called once here before the children are forked when there are two or more, never with an item:
    the first-use work (imports) each child would otherwise repeat, which they then inherit (module docstring).
    """
    if not one_thread():
        raise RuntimeError("parsestream forks: it must run in a process with one thread")
    if lanes > 1 and (instant is None or not all(instant(i) for i in range(count))):
        lanes = 1
    lanes = max(1, min(lanes, count))
    if lanes > 1 and prepare is not None:
        _prepare(prepare)
        if not one_thread():  # what it imported started a thread: forking several children is no longer safe
            _log.warning("parse_prepare_started_a_thread")
            lanes = 1
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    running: list[tuple[_Child[T], Iterator[str | ParseTimeout | ParseWorkerFailed]] | None] = [None] * lanes

    def start(first: int) -> None:
        others = tuple(run[0].fd for run in running if run is not None)
        child = _Child(first, count, load, work, deadline, instant, step=lanes, others=others)
        running[first % lanes] = (child, child.results())

    try:
        for first in range(min(lanes, count)):
            start(first)
        for index in range(count):
            lane = index % lanes
            run = running[lane]
            assert run is not None  # started for this lane's first item, and again after each failure
            child, results = run
            result = next(results)
            yield result
            if isinstance(result, (ParseTimeout, ParseWorkerFailed)) or index + lanes >= count:
                child.reap()  # a killed or dead child's results have ended; so has one past its last item
                running[lane] = None
                if index + lanes < count:
                    start(index + lanes)
    finally:
        for run in running:
            if run is not None:
                run[0].kill()
        signal.signal(signal.SIGTERM, previous)


class OneShotParser:
    """Called like `maild.reports.parse(raw, hints)`: the parse runs in a child forked for it (see `stream`) and
    killed `grace` seconds of CPU past `hints.time_limit` (ParseTimeout); a child that dies raises
    ParseWorkerFailed, and one that cannot be forked ParseWorkerUnavailable, as parsework.WorkerParser's do.
    For a process with one thread that parses once or a few times (`maild ingest`); keeps no process between calls.
    """

    def __init__(self, *, grace: float = GRACE, target: Target = parse) -> None:
        self.grace = grace
        self.target = target

    def __call__(self, raw: bytes, hints: ParseHints) -> Report:
        from maild.receipts import reportwire  # marshal, not pickle, whose C module costs ingest ~8 ms to load

        def work(item: bytes) -> str:
            return reportwire.dumps(self.target(item, hints)).hex()  # one line, no newline

        try:
            answers = list(stream(1, lambda _: raw, work, hints.time_limit + self.grace))
        except OSError as exc:  # fork refused: EAGAIN, ENOMEM, like a worker that cannot start
            raise ParseWorkerUnavailable(f"no parse worker: {exc.strerror or exc}") from exc
        answer = answers[0]
        if isinstance(answer, (ParseTimeout, ParseWorkerFailed)):
            raise answer
        try:
            report = reportwire.loads(bytes.fromhex(answer))
        except ValueError as exc:
            raise ParseWorkerFailed("the parse process answered something other than a report") from exc
        if not isinstance(report, Report):
            raise ParseWorkerFailed("the parse process answered something other than a report")
        return report


def _prepare(prepare: Callable[[], None]) -> None:
    try:
        prepare()
    except Exception as exc:  # only a head start: each child then does what is left of that work where its parse needs it
        _log.warning("parse_prepare_failed", error=f"{type(exc).__name__}: {exc}")


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> NoReturn:
    raise SystemExit(128 + signum)  # unwinds through stream's finally, which kills the child


class _Child(Generic[T]):
    """One forked child working on items `first`, `first + step`, ... to the end, and the parent's end of its pipe.

    `others`: the parent's ends of other children's pipes, which this child closes (it is not their reader)."""

    def __init__(self, first: int, count: int, load: Callable[[int], T], work: Callable[[T], str], deadline: float,
                 instant: Callable[[int], bool] | None = None, *, step: int = 1, others: tuple[int, ...] = ()) -> None:
        self.first, self.count, self.deadline, self.step = first, count, deadline, step
        for out in (sys.stdout, sys.stderr):  # what the parent has buffered must not be written twice
            out.flush()
        read_end, write_end = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            os.close(read_end)
            for fd in others:
                os.close(fd)
            _child_main(write_end, first, count, step, load, work, deadline, instant)
        os.close(write_end)
        self.fd = read_end
        self._poll = select.poll()
        self._poll.register(read_end, select.POLLIN)

    def results(self) -> Iterator[str | ParseTimeout | ParseWorkerFailed]:
        """This child's items in order; ends after a timeout or a death (its item reported), or at the last item."""
        index, pending = self.first, b""
        clock: CpuDeadline | None = None  # the item in progress's deadline
        wake: float | None = None  # when to look at it again (monotonic)
        while index < self.count:
            wait = None if wake is None else max(0.0, wake - time.monotonic())
            if not self._poll.poll(None if wait is None else wait * 1000):
                assert clock is not None
                rest = clock.remaining()
                if not rest:
                    self.kill()
                    yield ParseTimeout(self.deadline)
                    return
                wake = time.monotonic() + rest
                continue
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:  # the child is gone without this item's line
                status = self.reap()
                timed_out = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGPROF
                yield ParseTimeout(self.deadline) if timed_out else ParseWorkerFailed(_death(status))
                return
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                if line.startswith(_MARK):
                    # The child's own CPU time at the start: /proc is read only once the clock says it may be spent.
                    clock = CpuDeadline(self.pid, self.deadline, base=float(line[1:]), started=time.monotonic())
                    wake = clock.started + self.deadline
                    continue
                yield line[1:].decode("utf-8", "surrogateescape")
                index, clock, wake = index + self.step, None, None

    def kill(self) -> None:
        if self.pid > 0:  # not yet reaped, so the pid is still this child's (0 would signal our process group)
            os.kill(self.pid, signal.SIGKILL)
        self.reap()

    def reap(self) -> int:
        """Wait for the child (killing it first if it still runs) and close the pipe; its wait status."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if self.pid <= 0:
            return self._status
        _, self._status = os.waitpid(self.pid, 0)  # the pipe is closed: a child still writing gets EPIPE and ends
        self.pid = 0
        return self._status

    _status = 0


def _death(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"the parse process was killed by signal {os.WTERMSIG(status)}"
    return f"the parse process ended with status {os.waitstatus_to_exitcode(status)}"


def _child_main(fd: int, first: int, count: int, step: int, load: Callable[[int], T], work: Callable[[T], str],
                deadline: float, instant: Callable[[int], bool] | None = None) -> NoReturn:
    """The child: never returns into the parent's code; its exit skips the parent's atexit handlers and buffers."""
    code = 0
    held = b""  # the last item's line, sent with the next item's mark when that item's load is instant
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C reaches the whole process group: end quietly
        signal.signal(signal.SIGPROF, signal.SIG_DFL)
        for index in range(first, count, step):
            if held and (instant is None or not instant(index)):
                _write(fd, held)  # the load may wait (standard input): the answer before it goes now
                held = b""
            item = load(index)
            _write(fd, held + _MARK + repr(own_cpu_seconds()).encode() + b"\n")
            held = b""
            signal.setitimer(signal.ITIMER_PROF, deadline + _ORPHAN_SLACK)  # CPU time, as the parent counts
            line = work(item)
            signal.setitimer(signal.ITIMER_PROF, 0)
            held = _ANSWER + line.replace("\n", " ").encode("utf-8", "surrogateescape") + b"\n"
        _write(fd, held)
        held = b""
        _keep_compiled_regexes()
    except BrokenPipeError:
        code = 0  # the parent stopped reading (it was killed, or its own output was closed)
    except BaseException as exc:  # noqa: B036 - no traceback from a child: the parent reports its item as failed
        if held:  # a load that failed: the item before it still has its answer
            try:
                _write(fd, held)
            except OSError:
                pass
        _log.error("parse_process_failed", error=f"{type(exc).__name__}: {exc}")
        code = 70
    finally:
        sys.stderr.flush()  # its log lines (a library's warning); stdout is the parent's alone
        os._exit(code)


def _keep_compiled_regexes() -> None:
    """The regexes this child compiled, kept for the next command (core.recache): its os._exit runs no atexit handler.

    Called after the last item's line is written, so the parent already has every answer it waits for."""
    recache = sys.modules.get("maild.core.recache")
    if recache is not None:
        recache.save()


def _write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
