"""The store: SQLite on disk, one writer thread for the daemon, concurrent readers.

`Store.write(job)` and `Store.read(job)` take a function of a
`sqlite_utils.Database`; commands run the same jobs on a plain sqlite3
handle (`open_for_command`), so a job a command runs too takes a
`maild.core.sqldb.Db`, the part both handles share. The domain modules
(spool, events, queue queries) provide such functions so SQL stays next
to the concept it stores. The rest
of maild holds a `StorePort` (maild.store.protocol), which `Store` implements.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

from maild.core.sqldb import Db
from maild.store import settings as store_settings
from maild.store.db import CommandDb, connect, open_command_db, translate
from maild.store.protocol import Batchable, StorePort, StoreReads, StoreWrites
from maild.store.rows import EnumColumn, Row, named_row, named_rows
from maild.store.subjects import index_subjects, indexed_upto, keep_indexed

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)
if TYPE_CHECKING:
    from typing import Any, TypeVar
else:
    from maild.core.hints import TypeVar

if TYPE_CHECKING:
    # The daemon's machinery, imported when a Store is made: a command (open_for_command) never loads
    # asyncio, the thread pool, the writer or sqlite_utils.
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    import sqlite_utils

    from maild.store.writer import Writer

__all__ = [
    "Batchable", "EnumColumn", "Row", "Store", "StorePort", "StoreReads", "StoreWrites", "index_subjects",
    "indexed_upto", "keep_indexed", "named_row", "named_rows", "open_for_command", "transaction",
]

T = TypeVar("T")
D = TypeVar("D", bound=Db)


class Store:
    """The daemon's handle on the database: async writes through the writer, reads on a small pool."""

    def __init__(
        self, path: Path, *, busy_timeout: float = 5.0, readers: int = 2, receipts_default: bool | None = None
    ) -> None:
        self.path = path
        self.receipts_default = receipts_default  # tracking.receipts_default, stored at open (None: leave as stored)
        self.busy_timeout = busy_timeout
        import threading  # here, with the writer thread: a command's open_for_command starts no thread
        from concurrent.futures import ThreadPoolExecutor

        from maild.store.writer import Writer

        self.writer: Writer = Writer(path, busy_timeout=busy_timeout)
        self._readers: ThreadPoolExecutor = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="maild-reader")
        self._local = threading.local()
        self._reader_conns: list[sqlite_utils.Database] = []
        self._lock = threading.Lock()

    def open(self) -> Store:
        self.writer.start()  # creates the file and migrates before anyone reads
        if self.receipts_default is not None:
            # Once, at start, before any job: the same short transaction a CLI command makes.
            open_for_command(self.path, busy_timeout=self.busy_timeout, receipts_default=self.receipts_default).conn.close()
        return self

    def close(self) -> None:
        self.writer.close()
        self._readers.shutdown(wait=True)
        with self._lock:
            for db in self._reader_conns:
                db.conn.close()
            self._reader_conns.clear()

    @property
    def trouble(self) -> str | None:
        """The database's own write trouble (full disk, a lock held elsewhere, I/O), None once a commit succeeds."""
        return self.writer.stats.trouble

    async def write(self, job: Callable[[sqlite_utils.Database], T]) -> T:
        return await self.writer.run(job)

    def write_together(self, jobs: Sequence[Callable[[sqlite_utils.Database], Any]]) -> list[asyncio.Future[Any]]:
        """`write` of several jobs, committed in one transaction (each in its own SAVEPOINT): one future per job."""
        return self.writer.submit_together(jobs)

    async def read(self, job: Callable[[sqlite_utils.Database], T]) -> T:
        import asyncio  # loaded already by the daemon that awaits this

        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._read_in_thread, job)

    def _read_in_thread(self, job: Callable[[sqlite_utils.Database], T]) -> T:
        db = getattr(self._local, "db", None)
        if db is None:
            db = connect(self.path, busy_timeout=self.busy_timeout)
            self._local.db = db
            with self._lock:
                self._reader_conns.append(db)
        db.conn.execute("BEGIN")  # one consistent snapshot per read job
        try:
            return job(db)
        finally:
            db.conn.execute("ROLLBACK")


def open_for_command(path: Path, *, busy_timeout: float = 5.0, receipts_default: bool | None = None) -> CommandDb:
    """A direct connection for CLI commands (a process of their own: SQLite's locks serialise them with the daemon).

    `receipts_default` (tracking.receipts_default) is stored when it differs from the stored one, as `Store` does.
    The handle is a plain sqlite3 one (`maild.core.sqldb.Db`): a command's start-up never imports sqlite_utils.
    """
    db = open_command_db(path, busy_timeout=busy_timeout)
    if receipts_default is not None and store_settings.receipts_default(db) != receipts_default:
        value = receipts_default
        try:
            transaction(db, lambda d: store_settings.set_receipts_default(d, value))
        except BaseException:
            db.conn.close()
            raise
    return db


def transaction(db: D, job: Callable[[D], T]) -> T:
    """Run a job in one IMMEDIATE transaction on a command's own connection; SQLite errors become maild's."""
    try:
        db.conn.execute("BEGIN IMMEDIATE")
        try:
            result = job(db)
        except BaseException:
            if db.conn.in_transaction:
                db.conn.execute("ROLLBACK")
            raise
        db.conn.execute("COMMIT")
    except sqlite3.Error as exc:
        raise translate(exc, "database write failed") from None
    return result
