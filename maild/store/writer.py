"""The single database writer: a thread that runs write jobs in group-committed transactions.

Every write in the daemon goes through here, so the event loop never blocks
on SQLite and concurrent SMTP sessions share one fsync: the thread takes
every job waiting, runs each inside its own SAVEPOINT (a failing job rolls
back alone), commits once, and only then resolves the callers' futures. A
caller that gets a result knows its data is on disk.

Jobs of one kind can also be run together: a `Batchable` job names a function
that stores many items in a few statements (one multi-row INSERT rather than
one per item). Under load that matters more than SQLite's own speed: every
statement gives up the GIL and has to win it back from the busy event-loop
thread. A failing group is rolled back and its jobs run one by one, so one bad
job still fails alone.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

import sqlite_utils

from maild import logs
from maild.store.db import is_store_trouble, open_db, translate
from maild.store.protocol import Batchable

log = logs.get("store")
T = TypeVar("T")
Job = Callable[[sqlite_utils.Database], Any]

_STOP = object()
MAX_BATCH = 256


@dataclass(slots=True)
class _Pending:
    job: Job
    loop: asyncio.AbstractEventLoop  # run()'s future, settled in its loop
    future: asyncio.Future[Any]


@dataclass
class WriterStats:
    """Counters read by /metrics."""

    commits: int = 0
    jobs: int = 0
    observers: list[Callable[[float], None]] = field(default_factory=list)
    # The database's own trouble (full disk, lock held elsewhere, I/O error), from the last write that met it
    # until a commit succeeds again: /healthz reports it, delivery holds outcomes while it lasts.
    trouble: str | None = None
    trouble_since: float | None = None


class Writer:
    """Owns the one writing connection; start() before use, close() to drain and stop."""

    def __init__(self, path: Path, *, busy_timeout: float = 5.0) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self.stats = WriterStats()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._open_error: BaseException | None = None
        self._trouble_now: str | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._main, name="maild-writer", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._open_error is not None:
            raise self._open_error

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join()
            self._thread = None

    async def run(self, job: Callable[[sqlite_utils.Database], T]) -> T:
        """Run `job(db)` in the writer thread; returns once its transaction is committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Pending(job, loop=loop, future=future))
        return await future

    def submit_together(self, jobs: Sequence[Job]) -> list[asyncio.Future[Any]]:
        """Queue `jobs` as one entry, so that the thread takes them all into one transaction; one future per job.

        Each job still runs in its own SAVEPOINT and gets its own result or error, as with `run`; jobs put one by
        one can be split between two commits when the thread wakes on the first before the others are queued.
        """
        loop = asyncio.get_running_loop()
        pending = [_Pending(job, loop=loop, future=loop.create_future()) for job in jobs]
        if pending:
            self._queue.put(pending)
        return [p.future for p in pending]

    # ------------------------------------------------------------ thread side

    def _main(self) -> None:
        try:
            db = open_db(self.path, busy_timeout=self.busy_timeout)
        except BaseException as exc:  # reported to start()'s caller
            self._open_error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            while True:
                first = self._queue.get()
                if first is _STOP:
                    return
                batch = list(first) if isinstance(first, list) else [first]  # a list: jobs submitted together
                stop = False
                while len(batch) < MAX_BATCH:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is _STOP:
                        stop = True
                        break
                    if isinstance(item, list):
                        batch.extend(item)
                    else:
                        batch.append(item)
                self._commit_batch(db, batch)
                if stop:
                    return
        finally:
            db.conn.close()

    def _commit_batch(self, db: sqlite_utils.Database, batch: list[_Pending]) -> None:
        conn = db.conn
        outcomes: list[tuple[Any, BaseException | None]] = [(None, None)] * len(batch)
        started = time.perf_counter()
        self._trouble_now = None
        try:
            conn.execute("BEGIN IMMEDIATE")
            if len(batch) == 1:  # alone in its transaction: that is its savepoint (a quiet daemon's every write)
                outcomes[0] = self._run_alone(db, batch[0].job)
            else:
                for group in _groups(batch):
                    if len(group) > 1 and self._run_group(db, batch, group, outcomes):
                        continue
                    for i in group:
                        outcomes[i] = self._run_one(db, batch[i].job)
            if conn.in_transaction:  # _run_alone rolled back a failed job's transaction
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            failure = translate(exc, "commit failed")
            log.error("store_commit_failed", error=str(failure), jobs=len(batch))
            outcomes = [(None, failure)] * len(batch)
            if is_store_trouble(exc):
                self._trouble_now = str(failure)
        self._note_trouble(any(e is None for _, e in outcomes))
        elapsed = time.perf_counter() - started
        self.stats.commits += 1
        self.stats.jobs += len(batch)
        for observe in self.stats.observers:
            observe(elapsed)
        # One wake-up per event loop for the whole batch, not one per job.
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any, BaseException | None]]] = {}
        for pending, (result, error) in zip(batch, outcomes, strict=True):
            by_loop.setdefault(pending.loop, []).append((pending.future, result, error))
        for loop, settled in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle_all, settled)
            except RuntimeError:  # the loop is closed: nobody is waiting any more
                pass

    def _note_trouble(self, some_succeeded: bool) -> None:
        stats = self.stats
        if self._trouble_now is not None:
            if stats.trouble is None:
                stats.trouble_since = time.time()
                log.error("store_trouble", error=self._trouble_now)
            stats.trouble = self._trouble_now
        elif some_succeeded and stats.trouble is not None:
            log.info("store_recovered", after_seconds=round(time.time() - (stats.trouble_since or time.time()), 1))
            stats.trouble, stats.trouble_since = None, None

    def _run_one(self, db: sqlite_utils.Database, job: Job) -> tuple[Any, BaseException | None]:
        conn = db.conn
        conn.execute("SAVEPOINT job")
        try:
            result = job(db)
        except BaseException as exc:  # one bad job must not sink the batch
            conn.execute("ROLLBACK TO job")
            conn.execute("RELEASE job")
            return None, self._job_failed(exc)
        conn.execute("RELEASE job")
        return result, None

    def _job_failed(self, exc: BaseException) -> BaseException:
        """What a failed job's caller gets (a SQLite error as a StoreError); a store in trouble is noted for health."""
        if is_store_trouble(exc):
            self._trouble_now = str(translate(exc, "write failed"))  # type: ignore[arg-type]
        return translate(exc, "write failed") if isinstance(exc, sqlite3.Error) else exc

    def _run_alone(self, db: sqlite_utils.Database, job: Job) -> tuple[Any, BaseException | None]:
        """`_run_one` for the only job of a transaction: a failure rolls the transaction back, no SAVEPOINT needed."""
        try:
            result = job(db)
        except BaseException as exc:  # as in _run_one: the job's error is its caller's, the writer goes on
            if db.conn.in_transaction:
                db.conn.execute("ROLLBACK")
            return None, self._job_failed(exc)
        return result, None

    @staticmethod
    def _run_group(
        db: sqlite_utils.Database, batch: list[_Pending], group: list[int], outcomes: list[tuple[Any, BaseException | None]]
    ) -> bool:
        """Run Batchable jobs of one kind in one call; False (and nothing stored) when it fails."""
        conn = db.conn
        jobs = [batch[i].job for i in group]
        conn.execute("SAVEPOINT jobs")
        try:
            batchable = [cast(Batchable, job) for job in jobs]  # _groups put only Batchable jobs in a group
            results = batchable[0].run_many(db, [job.item for job in batchable])
            if len(results) != len(jobs):
                raise RuntimeError("run_many returned a wrong number of results")
        except BaseException:
            conn.execute("ROLLBACK TO jobs")
            conn.execute("RELEASE jobs")
            return False  # the caller runs them one by one: a bad one fails alone
        conn.execute("RELEASE jobs")
        for i, result in zip(group, results, strict=True):
            outcomes[i] = (result, None)
        return True


def _groups(batch: list[_Pending]) -> list[list[int]]:
    """Indexes of the batch in running order: Batchable jobs sharing a run_many together, at the first one's place."""
    groups: list[list[int]] = []
    kinds: dict[Any, list[int]] = {}
    for i, pending in enumerate(batch):
        job = pending.job
        if isinstance(job, Batchable):
            group = kinds.get(job.run_many)
            if group is not None:
                group.append(i)
                continue
            group = kinds[job.run_many] = []
            group.append(i)
            groups.append(group)
        else:
            groups.append([i])
    return groups


def _settle_all(settled: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for future, result, error in settled:
        _settle(future, result, error)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # the caller was cancelled; the write stands regardless
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
