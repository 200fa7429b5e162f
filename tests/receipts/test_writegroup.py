"""Reports parsed side by side commit together (receipts.writegroup): the hold's rules, and the Ingestor's commits."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from maild.receipts.writegroup import WriteGroup
from maild.reports import ParseHints, Report, parse


class Recorder:
    """A store that records how its writes arrive: one by one (`write`) or together (`write_together`)."""

    def __init__(self) -> None:
        self.arrivals: list[list[str]] = []

    async def write(self, job: Callable[[Any], Any]) -> Any:
        self.arrivals.append([job(None)])
        return self.arrivals[-1][0]

    def write_together(self, jobs: Sequence[Callable[[Any], Any]]) -> list[asyncio.Future[Any]]:
        loop = asyncio.get_running_loop()
        results = [job(None) for job in jobs]
        self.arrivals.append(results)
        futures = [loop.create_future() for _ in jobs]
        for future, result in zip(futures, results, strict=True):
            future.set_result(result)
        return futures


def job(name: str) -> Callable[[Any], str]:
    return lambda _db: name


async def test_a_write_with_no_other_parse_in_flight_goes_at_once() -> None:
    group, store = WriteGroup(hold=30), Recorder()
    group.started()
    group.finished()
    assert await asyncio.wait_for(group.write(store, job("a")), 1) == "a"
    assert store.arrivals == [["a"]]


async def test_writes_wait_until_the_last_parse_beside_them_ends_then_go_together() -> None:
    group, store = WriteGroup(hold=30), Recorder()
    for _ in range(3):
        group.started()
    group.finished()
    first = asyncio.create_task(group.write(store, job("a")))
    group.finished()
    second = asyncio.create_task(group.write(store, job("b")))
    await asyncio.sleep(0.05)
    assert not first.done() and not second.done() and group.waiting == 2  # one parse is still running
    group.finished()  # the last one: the held writes go, in one entry
    assert await asyncio.wait_for(asyncio.gather(first, second), 1) == ["a", "b"]
    assert await asyncio.wait_for(group.write(store, job("c")), 1) == "c"  # nothing parsing now: at once
    assert store.arrivals == [["a", "b"], ["c"]]
    assert group.waiting == 0 and group.parsing == 0


async def test_most_writes_held_at_once_go_together() -> None:
    group, store = WriteGroup(hold=30, most=3), Recorder()
    for _ in range(10):
        group.started()
    held = []
    for name in "abc":
        group.finished()
        held.append(asyncio.create_task(group.write(store, job(name))))
        await asyncio.sleep(0.02)
    assert await asyncio.wait_for(asyncio.gather(*held), 1) == ["a", "b", "c"]  # the third completed the group
    assert store.arrivals == [["a", "b", "c"]]


async def test_a_parse_that_never_ends_holds_the_others_for_the_hold_time_only() -> None:
    group, store = WriteGroup(hold=0.2), Recorder()
    group.started()  # hung: never finished
    group.started()
    group.finished()
    started = time.monotonic()
    assert await asyncio.wait_for(group.write(store, job("a")), 5) == "a"
    assert 0.15 <= time.monotonic() - started < 3


async def test_a_held_write_that_is_cancelled_is_never_written() -> None:
    group, store = WriteGroup(hold=30), Recorder()
    group.started()
    group.started()
    group.finished()
    task = asyncio.create_task(group.write(store, job("gone")))
    await asyncio.sleep(0.02)
    assert group.waiting == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert group.waiting == 0
    kept = asyncio.create_task(group.write(store, job("kept")))
    group.finished()
    assert await asyncio.wait_for(kept, 1) == "kept"
    assert store.arrivals == [["kept"]]


async def test_a_store_without_write_together_gets_the_held_writes_one_by_one() -> None:
    class OneByOne:
        def __init__(self) -> None:
            self.seen: list[str] = []

        async def write(self, job: Callable[[Any], Any]) -> Any:
            self.seen.append(job(None))
            return self.seen[-1]

    group, store = WriteGroup(hold=30), OneByOne()
    group.started()
    group.started()
    group.finished()
    first = asyncio.create_task(group.write(store, job("a")))
    await asyncio.sleep(0.02)
    group.finished()
    assert await asyncio.wait_for(first, 1) == "a" and store.seen == ["a"]


class _Staggered:
    """A parser that parses for real once `n` parses have begun (all in flight at once), each answering 0.1 s after
    the one before (as worker answers trickle in), so that unheld writes would each get a commit of their own."""

    def __init__(self, n: int) -> None:
        self.barrier = threading.Barrier(n, timeout=20)

    def __call__(self, raw: bytes, hints: ParseHints) -> Report:
        turn = self.barrier.wait()
        time.sleep(0.1 * turn)
        return parse(raw, hints)


async def test_reports_parsed_side_by_side_commit_in_one_transaction(settings, store, db) -> None:  # type: ignore[no-untyped-def]
    from maild.receipts.ingest import Ingestor
    from tests.receipts.conftest import KEYS

    n = 5  # at most the default executor's threads on 2 cores (6), so the five parses are in flight at once
    ingestor = Ingestor(settings, store, KEYS, parser=_Staggered(n))
    ingestor.writes = WriteGroup(hold=20)  # the hold never ends it here: a loaded machine may stretch the 0.4 s
    raws = [f"From: someone@example.org\r\nSubject: note {i}\r\n\r\nnot a report {i}\r\n".encode() for i in range(n)]
    before = store.writer.stats.commits
    outcomes = await asyncio.wait_for(
        asyncio.gather(*(ingestor.ingest(raw, "maildir", f"f{i}") for i, raw in enumerate(raws))), 30
    )
    assert all(o.quarantined for o in outcomes)  # each report is still held (or applied) on its own
    assert len({o.quarantine_id for o in outcomes}) == n
    assert store.writer.stats.commits - before == 1  # one transaction for the five
    assert db.execute("SELECT count(*) FROM quarantine").fetchone()[0] == n


async def test_one_failing_write_of_a_group_fails_alone(settings, store, db) -> None:  # type: ignore[no-untyped-def]
    group = WriteGroup(hold=20)
    for _ in range(3):
        group.started()

    def boom(d: Any) -> None:
        d.execute("INSERT INTO status_settings (name, value) VALUES ('writegroup_boom', '1')")
        raise RuntimeError("this job fails")

    def fine(name: str) -> Callable[[Any], str]:
        def run(d: Any) -> str:
            d.execute("INSERT INTO status_settings (name, value) VALUES (?, '1')", (name,))
            return name
        return run

    tasks = []
    for j in (fine("writegroup_a"), boom, fine("writegroup_b")):
        group.finished()
        tasks.append(asyncio.create_task(group.write(store, j)))
    a, failed, b = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 30)
    assert (a, b) == ("writegroup_a", "writegroup_b") and isinstance(failed, RuntimeError)
    names = {r[0] for r in db.execute("SELECT name FROM status_settings WHERE name LIKE 'writegroup_%'")}
    assert names == {"writegroup_a", "writegroup_b"}  # the failing job rolled back alone, the others committed
