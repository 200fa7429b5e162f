"""parsestream: items parsed in order in one forked child (or several side by side), an item past its deadline killed with its child and the rest still done.

The work functions here stand in for a parse step that checks no budget (the stdlib's email parser on a huge
MIME tree, a quadratic stdlib helper): a loop that never ends, a process that dies, a parent that stops reading.
"""

from __future__ import annotations

import os
import select
import signal
import threading
import time
from pathlib import Path

import pytest

from maild.receipts import parsestream, parsework
from maild.receipts.parsework import ParseTimeout, ParseWorkerFailed
from tests.support.reports import DSN

DEADLINE = 0.3
SLACK = 5.0  # a loaded 2-core machine: a bound, not a speed figure


def work(item: str) -> str:
    if item == "hang":
        while True:  # checks no budget
            pass
    if item == "starved":  # waits on the clock without using CPU, as a parse a loaded machine gives no CPU
        time.sleep(3 * DEADLINE)
    if item == "die":
        os._exit(3)
    if item == "oom":
        os.kill(os.getpid(), signal.SIGKILL)
    if item == "empty":
        return ""
    return f"done {item} in {os.getpid()}"


def run(items: list[str], deadline: float = DEADLINE) -> list[object]:
    return list(parsestream.stream(len(items), items.__getitem__, work, deadline))


def children() -> set[int]:
    """This process's child processes, zombies included (a child killed and not waited for shows as state Z)."""
    me = str(os.getpid())
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if stat.rsplit(")", 1)[1].split()[1] == me:
                found.add(int(entry))
    return found


@pytest.fixture(autouse=True)
def one_thread():
    """parsestream forks, so it refuses a process with threads; earlier tests' threads (a proxy's, a server's, an
    executor's) end in their own time after those tests: wait for them (a bound only a thread that never ends reaches)."""
    deadline = time.monotonic() + 60
    while threading.active_count() != 1:
        assert time.monotonic() < deadline, f"threads still running: {[t.name for t in threading.enumerate()]}"
        time.sleep(0.05)


@pytest.fixture(autouse=True)
def no_child_left_behind():
    before = children()  # a session's servers may be children of this process too
    yield
    assert children() - before == set()


def test_items_come_back_in_order_from_one_child():
    out = run(["a", "b", "c"])
    assert [str(x).split(" in ")[0] for x in out] == ["done a", "done b", "done c"]
    assert len({str(x).split(" in ")[1] for x in out}) == 1  # one fork, not one per item


def test_an_item_past_its_deadline_is_a_timeout_and_the_items_after_it_are_done_by_a_fresh_child():
    started = time.monotonic()
    out = run(["a", "hang", "b", "hang", "c"])
    took = time.monotonic() - started
    assert [type(x) for x in out] == [str, ParseTimeout, str, ParseTimeout, str]
    assert [x.seconds for x in out if isinstance(x, ParseTimeout)] == [DEADLINE, DEADLINE]
    assert str(out[1]) == "the parse took longer than 0.3 s"
    assert len({str(x).split(" in ")[1] for x in out if isinstance(x, str)}) == 3  # a new child after each kill
    assert took < 2 * DEADLINE + SLACK


def test_the_deadline_counts_cpu_time_so_a_starved_parse_is_not_a_timeout():
    out = run(["a", "starved", "hang"])
    assert [type(x) for x in out] == [str, str, ParseTimeout]  # 3 deadlines on the clock, little CPU: done
    assert str(out[1]).startswith("done starved")


def test_a_child_that_dies_fails_its_item_only():
    out = run(["a", "die", "oom", "b"])
    assert [type(x) for x in out] == [str, ParseWorkerFailed, ParseWorkerFailed, str]
    assert str(out[1]) == "the parse process ended with status 3"
    assert str(out[2]) == "the parse process was killed by signal 9"


def test_loading_an_item_is_not_parse_time():
    def slow_load(i: int) -> str:
        time.sleep(2 * DEADLINE)  # standard input that arrives slowly
        return "a"

    out = list(parsestream.stream(2, slow_load, work, DEADLINE))
    assert [type(x) for x in out] == [str, str]


def every_load_instant(index: int) -> bool:
    return True


def test_answers_sent_with_the_next_items_start_come_back_the_same():
    items = ["a", "hang", "b", "die", "c", "empty", "d"]  # an empty answer is an answer too, not the child's mark
    out = list(parsestream.stream(len(items), items.__getitem__, work, DEADLINE, instant=every_load_instant))
    assert [type(x) for x in out] == [str, ParseTimeout, str, ParseWorkerFailed, str, str, str]
    assert [str(x).split(" in ")[0] for x in out if isinstance(x, str)] == ["done a", "done b", "done c", "", "done d"]


def test_an_answer_held_for_the_next_item_survives_that_items_failed_load():
    def load(index: int) -> str:
        if index == 1:
            raise OSError("the disk went away")
        return "a"

    out = list(parsestream.stream(2, load, work, DEADLINE, instant=every_load_instant))
    assert [type(x) for x in out] == [str, ParseWorkerFailed]
    assert str(out[0]).startswith("done a")


def test_an_answer_is_not_held_back_by_a_load_that_may_wait():
    # Item 1 is read from a pipe its writer (this test) fills only once it has item 0's answer: that answer must be
    # sent before the child waits to read item 1 (standard input, `maild parse a.eml -`).
    read_end, write_end = os.pipe()

    def load(index: int) -> str:
        if index == 0:
            return "a"
        ready, _, _ = select.select([read_end], [], [], 20.0)
        return "on time" if ready else "late"

    lines = parsestream.stream(2, load, work, 60.0, instant=lambda index: index == 0)
    try:
        assert next(lines).startswith("done a")
        os.write(write_end, b"x")
        assert next(lines).startswith("done on time")
    finally:
        lines.close()
        os.close(read_end)
        os.close(write_end)


def test_closing_the_stream_mid_parse_kills_the_child():
    before = children()
    lines = parsestream.stream(3, ["a", "hang", "b"].__getitem__, work, 60.0)
    assert next(lines).startswith("done a")
    assert children() - before
    lines.close()  # as an interrupt in the caller's loop does (the CLI holds the stream in `closing`)


def test_a_child_whose_parent_stops_reading_ends_itself_past_the_deadline():
    # The parent's own watch is what kills at the deadline; this is the child's timer, for a parent that is gone or
    # blocked writing its output. Simulated by reading the pipe only after the child's timer has run out.
    # The child's timer counts CPU time, as the parent's deadline does, so the bound is on the child's CPU: on a
    # loaded 2-core machine the same CPU second can take many seconds of wall time.
    child = parsestream._Child(0, 1, ["hang"].__getitem__, work, DEADLINE)
    _, status, usage = os.wait4(child.pid, 0)
    child.pid = 0
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGPROF
    cpu = usage.ru_utime + usage.ru_stime
    # The lower bound is half the slack short: at load 6-8 the kernel's rusage for the child came out up to 0.26 s
    # below the CPU time its ITIMER_PROF had counted (both are sampled), but a timer armed at the deadline without
    # the slack (0.3 s) still fails it, which is what the bound is for.
    timer = DEADLINE + parsestream._ORPHAN_SLACK
    assert timer - parsestream._ORPHAN_SLACK / 2 <= cpu < timer + 0.5
    child.reap()


def test_a_process_with_threads_is_refused_since_forking_it_is_unsafe():
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        with pytest.raises(RuntimeError, match="one thread"):
            next(parsestream.stream(1, ["a"].__getitem__, work, DEADLINE))
    finally:
        stop.set()
        thread.join()


def test_a_thread_started_without_threading_is_seen_too():
    # A command does not import threading; a thread started through _thread alone must still stop the fork.
    import _thread

    started, release = _thread.allocate_lock(), _thread.allocate_lock()
    started.acquire()
    release.acquire()

    def hold() -> None:
        started.release()
        release.acquire()

    _thread.start_new_thread(hold, ())
    started.acquire()
    try:
        assert not parsework.one_thread()
        with pytest.raises(RuntimeError, match="one thread"):
            next(parsestream.stream(1, ["a"].__getitem__, work, DEADLINE))
    finally:
        release.release()
    deadline = time.monotonic() + 10
    while _thread._count() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert parsework.one_thread()


# ---- OneShotParser: `maild ingest`'s one parse in a forked child, the Report sent back (receipts.reportwire)



def hang_target(raw: bytes, hints: object) -> object:
    while True:  # a parse step that checks no budget
        pass


def dying_target(raw: bytes, hints: object) -> object:
    os.kill(os.getpid(), signal.SIGKILL)  # out of memory on this input
    raise AssertionError


def other_target(raw: bytes, hints: object) -> object:
    return "not a report"


def test_one_shot_parser_returns_the_report_the_parser_gives_in_process():
    from maild.reports import ParseHints, parse

    hints = ParseHints(domain="helpdesk.example.com")
    for raw in (DSN, b"", b"Subject: hello\r\n\r\nnot a report\r\n", DSN.replace(b"5.1.1", b"4.2.2")):
        ours = parsestream.OneShotParser()(raw, hints)
        assert ours == parse(raw, hints)
    assert ours.recipients and ours.recipients[0].address == "a@example.net"  # it did read the DSN


def test_one_shot_parser_kills_a_parse_past_its_deadline():
    from maild.reports import ParseHints

    started = time.monotonic()
    with pytest.raises(ParseTimeout):
        parsestream.OneShotParser(grace=DEADLINE, target=hang_target)(DSN, ParseHints(time_limit=DEADLINE))  # type: ignore[arg-type]
    assert time.monotonic() - started < 2 * DEADLINE + SLACK


def test_one_shot_parser_reports_a_child_that_dies_or_answers_nonsense():
    from maild.reports import ParseHints

    with pytest.raises(ParseWorkerFailed, match="killed by signal 9"):
        parsestream.OneShotParser(target=dying_target)(DSN, ParseHints())  # type: ignore[arg-type]
    with pytest.raises(ParseWorkerFailed, match="other than a report"):
        parsestream.OneShotParser(target=other_target)(DSN, ParseHints())  # type: ignore[arg-type]


def lanes_of(out: list[object]) -> list[str]:
    """The pid that made each answer ("done ITEM in PID"), "-" for a failure."""
    return [str(x).split(" in ")[1] if isinstance(x, str) else "-" for x in out]


def test_lanes_parse_side_by_side_and_answer_in_item_order():
    items = [f"i{n}" for n in range(9)]
    out = list(parsestream.stream(len(items), items.__getitem__, work, DEADLINE, instant=every_load_instant, lanes=2))
    assert [str(x).split(" in ")[0] for x in out] == [f"done {item}" for item in items]
    pids = lanes_of(out)
    assert len(set(pids)) == 2  # two children, item i in lane i % 2
    assert all(pids[i] == pids[i % 2] for i in range(len(items)))


def test_an_item_past_its_deadline_in_one_lane_leaves_the_other_lane_alone():
    items = ["a", "b", "hang", "c", "d", "e", "f"]  # the hang is lane 0's second item
    out = list(parsestream.stream(len(items), items.__getitem__, work, DEADLINE, instant=every_load_instant, lanes=2))
    assert [type(x) for x in out] == [str, str, ParseTimeout, str, str, str, str]
    assert [str(x).split(" in ")[0] for x in out if isinstance(x, str)] == ["done a", "done b", "done c", "done d", "done e", "done f"]
    pids = lanes_of(out)
    assert pids[1] == pids[3] == pids[5]  # lane 1 kept its child
    assert pids[0] != pids[4] == pids[6]  # lane 0 got a fresh one after the kill
    assert len(set(pids) - {"-"}) == 3


def test_a_hang_in_a_lane_the_parent_is_not_watching_is_ended_by_its_own_timer():
    # Lane 1 hangs while the parent waits for lane 0's slow-to-load item: the child's CPU timer ends it
    # (_ORPHAN_SLACK past the deadline) and its item is the same timeout when its turn comes.
    def load(index: int) -> str:
        if index == 0:
            time.sleep(DEADLINE + parsestream._ORPHAN_SLACK + 1.5)  # loading is not parse time
        return ["a", "hang", "b", "c"][index]

    out = list(parsestream.stream(4, load, work, DEADLINE, instant=every_load_instant, lanes=2))
    assert [type(x) for x in out] == [str, ParseTimeout, str, str]
    assert str(out[1]) == "the parse took longer than 0.3 s"


def test_a_lane_whose_child_dies_fails_that_item_only():
    items = ["a", "die", "b", "oom", "c", "d"]
    out = list(parsestream.stream(len(items), items.__getitem__, work, DEADLINE, instant=every_load_instant, lanes=3))
    assert [type(x) for x in out] == [str, ParseWorkerFailed, str, ParseWorkerFailed, str, str]
    assert str(out[1]) == "the parse process ended with status 3"
    assert str(out[3]) == "the parse process was killed by signal 9"


def test_a_load_that_may_wait_keeps_one_lane():
    # Standard input among the files: two children must not both read it, so one child reads every item in order.
    items = ["a", "b", "c", "d"]
    out = list(parsestream.stream(len(items), items.__getitem__, work, DEADLINE, instant=lambda i: i != 2, lanes=2))
    assert len(set(lanes_of(out))) == 1
    out = list(parsestream.stream(len(items), items.__getitem__, work, DEADLINE, lanes=2))  # no word on loads
    assert len(set(lanes_of(out))) == 1


def test_more_lanes_than_items_fork_one_child_per_item():
    out = list(parsestream.stream(2, ["a", "b"].__getitem__, work, DEADLINE, instant=every_load_instant, lanes=4))
    assert [str(x).split(" in ")[0] for x in out] == ["done a", "done b"]
    assert len(set(lanes_of(out))) == 2


def test_closing_a_stream_of_lanes_mid_parse_kills_every_child():
    before = children()
    items = ["a", "hang", "hang", "b"]
    lines = parsestream.stream(len(items), items.__getitem__, work, 60.0, instant=every_load_instant, lanes=2)
    assert next(lines).startswith("done a")
    assert len(children() - before) == 2
    lines.close()
    assert children() - before == set()


def pipes_open() -> set[str]:
    """The pipes this process holds an end of, as /proc names them ("pipe:[INODE]")."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # the listing's own descriptor, closed by now
            continue
        if target.startswith("pipe:"):
            found.add(target)
    return found


def test_a_lane_does_not_hold_another_lanes_pipe_open():
    # Lane 1's child is forked while the parent holds lane 0's read end: it must close it, or a parent that died
    # would leave lane 0 writing into a pipe still open for reading. Only the pipe it writes to may remain.
    def answer(item: str) -> str:
        return " ".join(sorted(pipes_open())) if item == "pipes" else work(item)

    before = pipes_open()
    lines = parsestream.stream(2, ["a", "pipes"].__getitem__, answer, DEADLINE, instant=every_load_instant, lanes=2)
    try:
        assert next(lines).startswith("done a")
        lanes_pipes = pipes_open() - before  # the parent's read ends of both lanes' pipes
        lane1_sees = set(str(next(lines)).split()) & lanes_pipes
    finally:
        lines.close()
    assert len(lanes_pipes) == 2
    assert len(lane1_sees) == 1  # its own pipe (the write end); not lane 0's


def test_no_items_fork_no_child(monkeypatch):
    forks = []
    real_fork = os.fork

    def counted_fork() -> int:
        forks.append(1)
        return real_fork()

    monkeypatch.setattr(parsestream.os, "fork", counted_fork)
    assert list(parsestream.stream(0, [].__getitem__, work, DEADLINE, instant=every_load_instant, lanes=2)) == []
    assert forks == []
    assert len(list(parsestream.stream(3, ["a", "b", "c"].__getitem__, work, DEADLINE, instant=every_load_instant, lanes=2))) == 3
    assert len(forks) == 2


# ---- prepare: the first-use work done once in the parent before lanes fork, inherited by every child


def test_prepare_runs_once_in_the_parent_before_the_first_fork_and_every_child_inherits_it(monkeypatch):
    forks: list[int] = []
    real_fork = os.fork

    def counted_fork() -> int:
        forks.append(1)
        return real_fork()

    monkeypatch.setattr(parsestream.os, "fork", counted_fork)
    prepared: list[tuple[int, int]] = []  # (the process it ran in, how many forks had happened)
    loaded_here: list[int] = []  # the loads this process ran (a child's appends stay in the child)

    def load(index: int) -> str:
        loaded_here.append(index)
        return items[index]

    def answer(item: str) -> str:
        return f"{item} {len(prepared)}"  # in a child: what the parent had prepared when it forked

    items = ["a", "b", "c", "d", "e"]
    out = list(parsestream.stream(len(items), load, answer, DEADLINE, instant=every_load_instant, lanes=2, prepare=lambda: prepared.append((os.getpid(), len(forks)))))
    assert prepared == [(os.getpid(), 0)]
    assert out == [f"{item} 1" for item in items]
    assert len(forks) == 2
    assert loaded_here == []  # every item was read in a child, none in the parent


def test_one_lane_never_prepares():
    # One file (`maild parse FILE`), standard input among the files, `maild ingest`: one child, which pays the
    # first-use work only if its parse needs it.
    calls: list[int] = []
    prepare = lambda: calls.append(1)  # noqa: E731
    assert len(list(parsestream.stream(1, ["a"].__getitem__, work, DEADLINE, instant=every_load_instant, lanes=4, prepare=prepare))) == 1
    assert len(list(parsestream.stream(3, ["a", "b", "c"].__getitem__, work, DEADLINE, instant=lambda i: i != 1, lanes=2, prepare=prepare))) == 3
    assert len(list(parsestream.stream(3, ["a", "b", "c"].__getitem__, work, DEADLINE, lanes=1, prepare=prepare))) == 3
    assert calls == []


def test_a_prepare_that_starts_a_thread_leaves_one_lane(monkeypatch):
    # Forking several children of a process with another thread can copy a lock that thread holds.
    import threading

    forks: list[int] = []
    real_fork = os.fork
    monkeypatch.setattr(parsestream.os, "fork", lambda: forks.append(1) or real_fork())
    stop = threading.Event()
    try:
        out = list(parsestream.stream(4, ["a", "b", "c", "d"].__getitem__, work, DEADLINE, instant=every_load_instant,
                                      lanes=2, prepare=lambda: threading.Thread(target=stop.wait, daemon=True).start()))
    except RuntimeError:
        out = []  # refused outright would be safe too, but the files must still be parsed: fail below
    finally:
        stop.set()
    assert [str(x).split(" in ")[0] for x in out] == ["done a", "done b", "done c", "done d"]
    assert len(forks) == 1


def test_a_prepare_that_fails_leaves_the_work_to_the_children():
    def prepare() -> None:
        raise ImportError("no such library")

    out = list(parsestream.stream(4, ["a", "b", "c", "d"].__getitem__, work, DEADLINE, instant=every_load_instant, lanes=2, prepare=prepare))
    assert [str(x).split(" in ")[0] for x in out] == ["done a", "done b", "done c", "done d"]
