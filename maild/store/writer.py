"""The single database writer: a thread that runs write jobs in group-committed transactions.

Every write in the daemon goes through here, so the event loop never blocks
on SQLite and concurrent SMTP sessions share one fsync: the thread takes
every job waiting, runs each inside its own SAVEPOINT (a failing job rolls
back alone), commits once, and only then resolves the callers' futures. A
caller that gets a result knows its data is on disk.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import sqlite_utils

from maild import logs
from maild.store.db import open_db, translate

log = logs.get("store")
T = TypeVar("T")
Job = Callable[[sqlite_utils.Database], Any]

_STOP = object()
MAX_BATCH = 256


@dataclass
class _Pending:
    job: Job
    done: Callable[[Any, BaseException | None], None]


@dataclass
class WriterStats:
    """Counters read by /metrics."""

    commits: int = 0
    jobs: int = 0
    last_commit_seconds: float = 0.0
    commit_seconds_total: float = 0.0
    observers: list[Callable[[float], None]] = field(default_factory=list)


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

        def done(result: Any, error: BaseException | None) -> None:
            loop.call_soon_threadsafe(_settle, future, result, error)

        self._queue.put(_Pending(job, done))
        return await future

    def run_sync(self, job: Callable[[sqlite_utils.Database], T]) -> T:
        """Blocking variant for threads other than the event loop's."""
        box: dict[str, Any] = {}
        finished = threading.Event()

        def done(result: Any, error: BaseException | None) -> None:
            box["result"], box["error"] = result, error
            finished.set()

        self._queue.put(_Pending(job, done))
        finished.wait()
        if box["error"] is not None:
            raise box["error"]
        return box["result"]

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
                batch = [first]
                stop = False
                while len(batch) < MAX_BATCH:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is _STOP:
                        stop = True
                        break
                    batch.append(item)
                self._commit_batch(db, batch)
                if stop:
                    return
        finally:
            db.conn.close()

    def _commit_batch(self, db: sqlite_utils.Database, batch: list[_Pending]) -> None:
        conn = db.conn
        outcomes: list[tuple[Any, BaseException | None]] = []
        started = time.perf_counter()
        try:
            conn.execute("BEGIN IMMEDIATE")
            for pending in batch:
                conn.execute("SAVEPOINT job")
                try:
                    result = pending.job(db)
                except BaseException as exc:  # one bad job must not sink the batch
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    error = translate(exc, "write failed") if isinstance(exc, sqlite3.Error) else exc
                    outcomes.append((None, error))
                else:
                    conn.execute("RELEASE job")
                    outcomes.append((result, None))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            error = translate(exc, "commit failed")
            log.error("store_commit_failed", error=str(error), jobs=len(batch))
            outcomes = [(None, error)] * len(batch)
        elapsed = time.perf_counter() - started
        self.stats.commits += 1
        self.stats.jobs += len(batch)
        self.stats.last_commit_seconds = elapsed
        self.stats.commit_seconds_total += elapsed
        for observe in self.stats.observers:
            observe(elapsed)
        for pending, (result, error) in zip(batch, outcomes, strict=True):
            pending.done(result, error)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # the caller was cancelled; the write stands regardless
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
