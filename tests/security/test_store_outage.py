"""High 3: while the store cannot write, no copy is sent twice; delivery pauses; /healthz says so; nothing is lost.

The attack reproduced: an outcome that could not be committed (another writer
holding the lock, a full disk) used to put the copy in a 60 s cooldown and send
it again, and the next copies went out meanwhile: 4 copies of each message in
3.5 minutes of a full disk. Held outcomes also go to the outcome journal, so a
crash or a stop during the outage does not send those copies again either.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from maild import metrics
from maild.delivery.journal import OutcomeJournal
from maild.delivery.scheduler import Scheduler
from maild.store import Store
from tests.delivery.conftest import KEYS, FakeClock, UpstreamServer, enqueue, make_settings
from tests.delivery.conftest import upstream  # noqa: F401  (fixture)


async def until(condition: Callable[[], object], timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def states(store: Store) -> list[str]:
    rows = await store.read(lambda db: db.execute("SELECT delivery_state FROM recipients ORDER BY id").fetchall())
    return [r[0] for r in rows]


def probe(store: Store, d: Scheduler) -> metrics.Health:
    return metrics.health(
        metrics.HealthProbe(
            store_open=True, listeners={"smtp 127.0.0.1:1": True},
            store_trouble=store.trouble, unrecorded_outcomes=d.stats().unrecorded,
        )
    )


async def _outage_then_recovery(
    tmp_path: Path, upstream: UpstreamServer, store: Store, break_store: Callable[[], None], mend_store: Callable[[], None]  # noqa: F811
) -> None:
    n_messages = 40
    for n in range(n_messages):
        await enqueue(store, [f"user{n}@example.net"])
    settings = make_settings(
        tmp_path, f"smtp://127.0.0.1:{upstream.port}", concurrency=1, batch_size=1, poll_interval="0.05s"
    )
    d = Scheduler(settings, store, KEYS, clock=FakeClock())
    break_store()
    runner = asyncio.create_task(d.run())
    try:
        await until(lambda: d.stats().unrecorded >= 1, what="the first outcome held")
        await until(lambda: d.stats().in_flight == d.stats().unrecorded, what="copies on the wire answered")
        sent = len(upstream.received)  # those already on their way when the first write failed
        assert sent < n_messages, "delivery went on sending while the store could not record"
        held_at = time.monotonic()
        # Longer than several write retries and poll intervals: nothing further goes to the upstream.
        while time.monotonic() - held_at < 3.0:
            await asyncio.sleep(0.1)
            assert len(upstream.received) == sent, "a copy went out while outcomes were unrecorded"
        health = probe(store, d)
        assert health.http_status == 503 and any("store cannot write" in p for p in health.problems), health
        assert any("delivery paused" in p for p in health.problems)
        mend_store()
        await until(lambda: len(upstream.received) >= n_messages and d.stats().unrecorded == 0, what="delivery after recovery")
        await until(lambda: store.trouble is None, what="the store's trouble cleared")
        await until(lambda: d.stats().in_flight == 0, what="the last outcomes recorded")
        assert await states(store) == ["accepted"] * n_messages
        # each recipient exactly once: nothing re-sent, nothing lost
        assert sorted(r.rcpt_tos[0] for r in upstream.received) == sorted(f"user{n}@example.net" for n in range(n_messages))
        assert probe(store, d).http_status == 200
    finally:
        await d.stop(5)
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)


async def _crash_during_outage_then_restart(
    tmp_path: Path, upstream: UpstreamServer, store: Store, break_store: Callable[[], None],  # noqa: F811
    mend_store: Callable[[], None], *, stop: bool = False,
) -> None:
    n_messages = 20
    for n in range(n_messages):
        await enqueue(store, [f"user{n}@example.net"])
    settings = make_settings(
        tmp_path, f"smtp://127.0.0.1:{upstream.port}", concurrency=2, batch_size=2, poll_interval="0.05s"
    )
    where = tmp_path / "maild.db-outcomes"
    journal = OutcomeJournal(where, size=256 * 1024).open()  # as the daemon does, before anything fills the disk
    d = Scheduler(settings, store, KEYS, clock=FakeClock(), journal=journal)
    break_store()
    runner = asyncio.create_task(d.run())
    await until(lambda: d.stats().unrecorded >= 1, what="the first outcome held")
    await until(lambda: d.stats().in_flight == d.stats().unrecorded, what="copies on the wire answered")
    sent = len(upstream.received)
    held = d.stats().unrecorded
    assert 0 < sent < n_messages and held == sent
    if stop:  # a stop while the store still cannot write: the last write fails, the journal keeps them
        await d.stop(1)
        runner.cancel()
    else:  # kill -9: the scheduler's memory is gone and nothing more is said to the store
        for task in [runner, *d._tasks, *([d._record_retry] if d._record_retry else [])]:
            task.cancel()
        await d.transport.close()
    await asyncio.gather(runner, return_exceptions=True)
    journal.close()
    assert await states(store) == ["queued"] * n_messages  # the store knows nothing of what was sent
    mend_store()

    again = OutcomeJournal(where, size=256 * 1024).open()
    assert len(again.pending()) == held
    d2 = Scheduler(settings, store, KEYS, clock=FakeClock(), journal=again)
    runner2 = asyncio.create_task(d2.run())
    try:
        await until(lambda: len(upstream.received) >= n_messages, what="the rest delivered after the restart")
        await until(lambda: d2.stats().in_flight == 0 and d2.stats().accepted == n_messages - sent, what="outcomes recorded")
        assert await states(store) == ["accepted"] * n_messages
        # each recipient exactly once: the copies answered before the crash were not sent again
        assert sorted(r.rcpt_tos[0] for r in upstream.received) == sorted(f"user{n}@example.net" for n in range(n_messages))
        assert again.pending() == ()
        events = await store.read(lambda db: db.execute(
            "SELECT count(*) FROM events WHERE kind = 'accepted'").fetchone()[0])
        assert events == n_messages  # the replayed ones once each, with the others
    finally:
        await d2.stop(5)
        runner2.cancel()
        await asyncio.gather(runner2, return_exceptions=True)
        again.close()


class HeldLock:
    """Another process's write transaction on the store: taken, then rolled back."""

    def __init__(self, db: Path) -> None:
        self.other = sqlite3.connect(db, isolation_level=None)

    def take(self) -> None:
        self.other.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        self.other.execute("ROLLBACK")


@pytest.mark.parametrize("stop", [False, True], ids=["kill", "stop"])
async def test_a_crash_or_stop_while_the_lock_is_held_sends_nothing_again_after_the_restart(
    tmp_path, upstream, stop  # noqa: F811
):
    store = Store(tmp_path / "maild.db", busy_timeout=0.2).open()
    lock = HeldLock(tmp_path / "maild.db")
    try:
        await _crash_during_outage_then_restart(
            tmp_path, upstream, store, break_store=lock.take, mend_store=lock.release, stop=stop,
        )
    finally:
        lock.other.close()
        store.close()


async def test_another_writer_holding_the_lock_pauses_delivery_without_a_resend(tmp_path, upstream):  # noqa: F811
    store = Store(tmp_path / "maild.db", busy_timeout=0.2).open()
    lock = HeldLock(tmp_path / "maild.db")
    try:
        await _outage_then_recovery(tmp_path, upstream, store, break_store=lock.take, mend_store=lock.release)
    finally:
        lock.other.close()
        store.close()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    where = tmp_path / "disk"
    where.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs for the full-disk test needs root")
    # Room for the store and the WAL of the 40 messages the tests enqueue first (3 MB with the panel's indexes of
    # migration 8), and little more: the filler then takes what is left.
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=5m", "tmpfs", str(where)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    # Unbuffered: a buffered file would fail again at close, flushing what the full disk refused.
    with filler.open("wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 65536)
        except OSError:
            pass
    return filler


class FullDisk:
    """Fills the small disk (after an empty WAL, so the store's next write needs new space) and frees it again."""

    def __init__(self, disk: Path) -> None:
        self.disk = disk
        self.filler: Path | None = None

    def fill(self) -> None:
        # WAL frames are reused after a checkpoint: start from an empty WAL so the next write needs new space
        with sqlite3.connect(self.disk / "maild.db") as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.filler = fill(self.disk)

    def free(self) -> None:
        assert self.filler is not None
        self.filler.unlink()


async def test_a_full_disk_pauses_delivery_without_a_resend_and_records_everything_after(small_disk, upstream):  # noqa: F811
    store = Store(small_disk / "maild.db", busy_timeout=0.2).open()
    disk = FullDisk(small_disk)
    try:
        await _outage_then_recovery(small_disk, upstream, store, break_store=disk.fill, mend_store=disk.free)
    finally:
        store.close()


async def test_a_crash_while_the_disk_is_full_sends_nothing_again_after_the_restart(small_disk, upstream):  # noqa: F811
    store = Store(small_disk / "maild.db", busy_timeout=0.2).open()
    disk = FullDisk(small_disk)
    try:
        await _crash_during_outage_then_restart(small_disk, upstream, store, break_store=disk.fill, mend_store=disk.free)
    finally:
        store.close()
