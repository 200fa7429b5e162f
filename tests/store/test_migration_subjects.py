"""Migration 11 on a database of schema 10 with mail in it: the subject index made again, the same tickets found."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from maild import queries
from maild.core.events import RecipientKind
from maild.spool import SpoolRecipient, Submission, enqueue, new_queue_id
from maild.store import index_subjects, indexed_upto, transaction
from maild.store import schema as schema_module
from maild.store.db import connect, migrate, open_db, schema_version
from maild.store.schema import MIGRATIONS
from tests.support.builders import KEYS, at

SUBJECTS = ["Your INVOICE for March", "Shipping delay", None, "Invoice reminder", "100% done", "Re: shipping"]
TERMS = ["invoice", "INVOICE for", "shipping", "100%", "reminder", "nothing like it", "T1"]


def _message(n: int, subject: str | None) -> Submission:
    return Submission(
        queue_id=new_queue_id(),
        sender="agent@helpdesk.example.com",
        recipients=(SpoolRecipient(f"u{n}@example.net", RecipientKind.TO),),
        headers=b"Subject: x\r\n",
        body=b"hello\r\n",
        received_at=at(n),
        ticket=f"T{n}",
        department="Billing",
        message_id=f"<m{n}@helpdesk.example.com>",
        subject=subject,
    )


def _in_index(db: object, trigram: str) -> list[int]:
    """Message ids the index itself holds for a text (a scan without MATCH would read the messages table)."""
    sql = "SELECT rowid FROM message_subjects WHERE message_subjects MATCH ? ORDER BY rowid"
    return [r[0] for r in db.execute(sql, (f'"{trigram}"',))]  # type: ignore[attr-defined]


def _found(db: object) -> dict[str, list[str | None]]:
    return {term: [r.reply.message_id for r in queries.list_replies(db, search=term).rows] for term in TERMS}  # type: ignore[arg-type]


@pytest.fixture
def schema_10(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A file migrated up to 10 by this maild's own migrations, mail stored, part of it in the subject index."""
    path = tmp_path / "maild.db"
    with monkeypatch.context() as m:
        m.setattr(schema_module, "MIGRATIONS", MIGRATIONS[:10])
        db = connect(path)
        assert migrate(db) == 10
    for n, subject in enumerate(SUBJECTS[:4]):
        transaction(db, lambda d, s=_message(n, subject): enqueue(d, s, KEYS))
    transaction(db, index_subjects)  # the first four in the index...
    for n, subject in enumerate(SUBJECTS[4:], start=4):
        transaction(db, lambda d, s=_message(n, subject): enqueue(d, s, KEYS))  # ...the last two not yet
    db.conn.close()
    return path


def test_the_fixture_has_the_index_with_its_size_table(schema_10: Path) -> None:
    conn = sqlite3.connect(schema_10)
    tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 10
    assert "message_subjects_docsize" in tables
    assert conn.execute("SELECT count(*) FROM message_subjects_docsize").fetchone()[0] == 3  # the NULL subject is not in it
    conn.close()


def test_search_finds_the_same_tickets_after_the_migration(schema_10: Path) -> None:
    before_db = connect(schema_10)
    before = _found(before_db)
    upto = indexed_upto(before_db)
    before_db.conn.close()
    db = open_db(schema_10)  # migrates
    try:
        assert schema_version(db) == len(MIGRATIONS)
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "message_subjects_docsize" not in tables
        assert indexed_upto(db) == upto
        assert _found(db) == before
        assert before["invoice"] == ["<m3@helpdesk.example.com>", "<m0@helpdesk.example.com>"]  # from the index
        assert before["100%"] == ["<m4@helpdesk.example.com>"]  # newer than the index: read directly
        # what the old index held, and nothing newer: "Re: shipping" and "100% done" wait for the catch-up
        assert (_in_index(db, "ship"), _in_index(db, "voice"), _in_index(db, "done")) == ([2], [1, 4], [])
    finally:
        db.conn.close()


def test_after_the_migration_the_catch_up_and_the_triggers_keep_the_index(schema_10: Path) -> None:
    db = open_db(schema_10)
    try:
        before = _found(db)
        assert transaction(db, index_subjects) == 2  # the catch-up goes on from where it was
        assert (_in_index(db, "ship"), _in_index(db, "voice"), _in_index(db, "done")) == ([2, 6], [1, 4], [5])
        assert _found(db) == before
        transaction(db, lambda d: d.execute("UPDATE messages SET subject = 'Credit note' WHERE id = 1"))
        transaction(db, lambda d: d.execute("DELETE FROM events WHERE message = 2"))
        transaction(db, lambda d: d.execute("DELETE FROM recipients WHERE message = 2"))
        transaction(db, lambda d: d.execute("DELETE FROM messages WHERE id = 2"))
        after = _found(db)
        assert after["invoice"] == ["<m3@helpdesk.example.com>"]
        assert after["shipping"] == ["<m5@helpdesk.example.com>"]
        assert [r.reply.message_id for r in queries.list_replies(db, search="credit note").rows] == ["<m0@helpdesk.example.com>"]
        integrity = db.execute("INSERT INTO message_subjects (message_subjects, rank) VALUES ('integrity-check', 1)")
        assert integrity is not None  # raises when the index and its content table disagree
    finally:
        db.conn.close()
