"""Opening the SQLite database: pragmas for durability and concurrency, and schema migrations."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from maild import logs
from maild.core.sqldb import Db
from maild.errors import StoreBusy, StoreError

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)
if TYPE_CHECKING:
    from typing import Any

if TYPE_CHECKING:
    import sqlite_utils

# The number of migrations in maild.store.schema (tests/store/test_store.py checks that they agree: add one
# there, count it here). A database at this version needs none, so a command that opens it (one process per
# receipt for `maild ingest`) never imports the schema modules.
SCHEMA_VERSION = 11

log = logs.get("store")


def _connection(path: Path, *, busy_timeout: float, readonly: bool) -> sqlite3.Connection:
    """A connection in WAL mode with synchronous=FULL: a commit is on disk before it returns.

    isolation_level=None: maild opens its own transactions (BEGIN IMMEDIATE for
    writes) instead of letting the sqlite3 module guess.
    """
    try:
        if readonly:
            conn = sqlite3.connect(
                f"file:{path}?mode=ro", uri=True, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            new = not path.exists()
            conn = sqlite3.connect(str(path), timeout=busy_timeout, isolation_level=None, check_same_thread=False)
            if new:
                # Mail lives here: private whatever the umask (SQLite gives -wal and -shm the same mode).
                conn.execute("PRAGMA user_version")  # makes SQLite create the file
                os.chmod(path, 0o600)
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        if not readonly:
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA recursive_triggers = ON")  # as sqlite_utils.Database sets it: one behaviour for both handles
    except sqlite3.Error as exc:  # not a database, locked, unreadable
        raise translate(exc, f"cannot open database {path}") from None
    except OSError as exc:  # its folder cannot be created
        raise StoreError(f"cannot open database {path}: {exc.strerror or exc}") from None
    return conn


def connect(path: Path, *, busy_timeout: float = 5.0, readonly: bool = False) -> sqlite_utils.Database:
    """The daemon's connection (see `_connection`), wrapped for sqlite_utils."""
    import sqlite_utils  # the daemon's: commands open a CommandDb and never import it

    return sqlite_utils.Database(_connection(path, busy_timeout=busy_timeout, readonly=readonly))


class CommandDb:
    """A command's handle: the connection and `execute()`, all a store job uses (`maild.core.sqldb.Db`).

    sqlite_utils is not imported for it: its import (click, dateutil, pluggy's entry-point scan) cost a
    short command such as `maild ingest`, run once per receipt, more than all of its own work.
    """

    __slots__ = ("conn", "__weakref__")  # weakref: maild.switches holds settings per handle

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] | None = None) -> sqlite3.Cursor:
        # isolation_level=None: no implicit transaction to commit, so this is sqlite_utils' execute() exactly.
        return self.conn.execute(sql) if parameters is None else self.conn.execute(sql, parameters)


def translate(exc: sqlite3.Error, context: str) -> Exception:
    """Map sqlite3's errors onto maild's tree: a lock is transient, the rest is not."""
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        return StoreBusy(f"{context}: {text}")
    return StoreError(f"{context}: {text}")


_TROUBLE = ("locked", "busy", "full", "disk i/o", "readonly", "unable to open", "no such file")


def is_store_trouble(exc: BaseException) -> bool:
    """True for errors of the database as a whole (lock, full disk, I/O, read-only), not of one job's rows."""
    return isinstance(exc, sqlite3.OperationalError) and any(t in str(exc).lower() for t in _TROUBLE)


def schema_version(db: Db) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: Db) -> int:
    """Apply the migrations this database has not seen; returns the resulting version."""
    current = schema_version(db)
    if current == SCHEMA_VERSION:
        return current
    from maild.store.schema import MIGRATIONS

    if current > len(MIGRATIONS):
        raise StoreError(
            f"database schema version {current} is newer than this maild knows ({len(MIGRATIONS)}): upgrade maild"
        )
    for version in range(current + 1, len(MIGRATIONS) + 1):
        conn = db.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            # Another process may have migrated while we waited for the lock.
            if schema_version(db) >= version:
                conn.execute("ROLLBACK")
                continue
            MIGRATIONS[version - 1](_with_table_helpers(db))
            conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise translate(exc, f"migration to schema version {version} failed") from None
        log.info("schema_migrated", version=version)
    return len(MIGRATIONS)


def open_db(path: Path, *, busy_timeout: float = 5.0) -> sqlite_utils.Database:
    """Open for writing and bring the schema up to date."""
    db = connect(path, busy_timeout=busy_timeout)
    migrate(db)
    return db


def open_command_db(path: Path, *, busy_timeout: float = 5.0) -> CommandDb:
    """A command's connection, opened for writing with the schema brought up to date (as `open_db`)."""
    db = CommandDb(_connection(path, busy_timeout=busy_timeout, readonly=False))
    try:
        migrate(db)
    except BaseException:
        db.conn.close()
        raise
    return db


def _with_table_helpers(db: Db) -> sqlite_utils.Database:
    """The migrations create tables with sqlite_utils' helpers: the same connection, wrapped when one runs."""
    import sqlite_utils  # only when a migration runs (a new or older database), never on a command's usual start

    return db if isinstance(db, sqlite_utils.Database) else sqlite_utils.Database(db.conn)
