"""The store: migrations, WAL, the writer's group commit and per-job isolation."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from maild.errors import StoreError
from maild.store import Store
from maild.store.db import SCHEMA_VERSION, connect, migrate, schema_version
from maild.store.schema import MIGRATIONS


@pytest.fixture
async def store(tmp_path):
    s = Store(tmp_path / "var" / "maild.db")
    await asyncio.to_thread(s.open)
    yield s
    await asyncio.to_thread(s.close)


def test_new_database_is_migrated_to_the_latest_version_in_wal_mode(tmp_path):
    db = connect(tmp_path / "m.db")
    assert migrate(db) == len(MIGRATIONS)
    assert schema_version(db) == len(MIGRATIONS)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_migrating_twice_is_a_no_op(tmp_path):
    db = connect(tmp_path / "m.db")
    migrate(db)
    tables = set(db.table_names())
    assert migrate(db) == len(MIGRATIONS)
    assert set(db.table_names()) == tables


def test_the_schema_version_counts_the_migrations():
    # migrate() skips importing the schema for a database at SCHEMA_VERSION: a migration it does not count would
    # never run for a command. A new migration in maild.store.schema raises it by one.
    assert SCHEMA_VERSION == len(MIGRATIONS)


def test_a_database_one_migration_behind_gets_the_last_one(tmp_path):
    db = connect(tmp_path / "m.db")
    for version, step in enumerate(MIGRATIONS[:-1], start=1):
        step(db)
        db.execute(f"PRAGMA user_version = {version}")
    def schema() -> set[tuple[str, str, str]]:
        return set(db.execute("SELECT type, name, coalesce(sql, '') FROM sqlite_master").fetchall())

    before = schema()
    assert migrate(db) == SCHEMA_VERSION
    assert schema_version(db) == SCHEMA_VERSION
    assert schema() != before  # the last migration ran: it made or remade tables, views or triggers
    assert migrate(db) == SCHEMA_VERSION  # and at the latest version, nothing more runs


def test_a_newer_schema_is_refused(tmp_path):
    db = connect(tmp_path / "m.db")
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(StoreError, match="newer"):
        migrate(db)


async def test_concurrent_writes_share_commits(store):
    def job(i):
        return lambda db: db.execute(
            "INSERT INTO departments (key, name, receipts_enabled) VALUES (?, ?, 1)", (f"d{i}", f"D{i}")
        ).lastrowid

    await asyncio.gather(*(store.write(job(i)) for i in range(50)))
    assert store.writer.stats.jobs == 50
    assert store.writer.stats.commits < 50  # several jobs per fsync
    count = await store.read(lambda db: db.execute("SELECT count(*) FROM departments").fetchone()[0])
    assert count == 50


async def test_a_failing_job_rolls_back_alone(store):
    def good(db):
        db.execute("INSERT INTO departments (key, name, receipts_enabled) VALUES ('ok', 'Ok', 1)")

    def bad(db):
        db.execute("INSERT INTO departments (key, name, receipts_enabled) VALUES ('half', 'Half', 1)")
        raise ValueError("boom")

    results = await asyncio.gather(store.write(good), store.write(bad), return_exceptions=True)
    assert results[0] is None and isinstance(results[1], ValueError)
    keys = await store.read(lambda db: [r[0] for r in db.execute("SELECT key FROM departments")])
    assert keys == ["ok"]


async def test_a_failing_job_alone_in_its_transaction_leaves_nothing_and_the_writer_goes_on(store):
    def bad(db):
        db.execute("INSERT INTO departments (key, name, receipts_enabled) VALUES ('half', 'Half', 1)")
        raise ValueError("boom")

    def duplicate(db):  # SQLite's own error, after a row of the same job went in
        db.execute("INSERT INTO departments (key, name, receipts_enabled) VALUES ('dup', 'Dup', 1)")
        db.execute("INSERT INTO departments (key, name, receipts_enabled) VALUES ('dup', 'Dup', 1)")

    commits = store.writer.stats.commits
    with pytest.raises(ValueError, match="boom"):
        await store.write(bad)  # one at a time: each alone in a transaction of its own
    with pytest.raises(StoreError, match="UNIQUE"):
        await store.write(duplicate)
    await store.write(lambda db: db.execute("INSERT INTO departments (key, name, receipts_enabled) VALUES ('ok', 'Ok', 1)"))
    assert store.writer.stats.commits == commits + 3
    keys = await store.read(lambda db: [r[0] for r in db.execute("SELECT key FROM departments")])
    assert keys == ["ok"]
    assert store.writer.stats.trouble is None  # a job's own error is not the database's trouble


async def test_sqlite_errors_are_translated(store):
    with pytest.raises(StoreError):
        await store.write(lambda db: db.execute("INSERT INTO nosuchtable VALUES (1)"))


async def test_readers_see_committed_data_while_another_connection_writes(store, tmp_path):
    await store.write(lambda db: db.execute("INSERT INTO departments (key, name, receipts_enabled) VALUES ('a', 'A', 1)"))
    other = sqlite3.connect(store.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO departments (key, name, receipts_enabled) VALUES ('b', 'B', 1)")
    # an open write transaction elsewhere does not block readers (WAL)
    count = await store.read(lambda db: db.execute("SELECT count(*) FROM departments").fetchone()[0])
    assert count == 1
    other.execute("COMMIT")
    other.close()


async def test_batchable_jobs_share_statements_and_a_bad_one_still_fails_alone(store):
    from datetime import UTC, datetime

    from maild import tokens
    from maild.core.events import RecipientKind
    from maild.spool import SpoolRecipient, Submission, enqueue_many
    from maild.store.writer import Batchable

    keys = tokens.KeySet({"a": b"k" * 32}, "a")
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    def sub(queue_id, n):
        rcpts = tuple(SpoolRecipient(f"r{i}@example.net", RecipientKind.TO) for i in range(n))
        return Submission(queue_id, "s@example.com", rcpts, b"Subject: x\r\n\r\n", b"body\r\n", at)

    subs = [sub("Q1", 1), sub("Q2", 3), sub("Q1", 2), sub("Q3", 2)]  # the second Q1 breaks the UNIQUE queue_id
    results = await asyncio.gather(
        *(store.write(Batchable(enqueue_many, (s, keys))) for s in subs), return_exceptions=True
    )
    assert isinstance(results[2], StoreError)
    spooled = [r for r in results if not isinstance(r, BaseException)]
    assert [s.queue_id for s in spooled] == ["Q1", "Q2", "Q3"]
    assert [len(s.recipients) for s in spooled] == [1, 3, 2]

    def rows(db):
        return db.execute(
            "SELECT r.id, r.message, r.token, (SELECT count(*) FROM events e WHERE e.recipient = r.id AND e.kind = 'queued')"
            " FROM recipients r ORDER BY r.id"
        ).fetchall()

    stored = await store.read(rows)
    assert [r[0] for r in stored] == [rid for s in spooled for rid in s.recipients]
    assert [r[1] for r in stored] == [s.message for s in spooled for _ in s.recipients]
    for rid, _, token, queued in stored:
        assert queued == 1
        verified = tokens.verify(keys, token)
        assert getattr(verified, "recipient_id", None) == rid



def test_a_new_database_is_private(tmp_path):
    from maild.store.db import open_db

    open_db(tmp_path / "var" / "m.db").conn.close()
    assert (tmp_path / "var" / "m.db").stat().st_mode & 0o777 == 0o600
