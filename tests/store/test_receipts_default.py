"""tracking.receipts_default takes one way in: the store stores it when opened, and every reader reads it from there."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from maild import queries, spool
from maild.core.events import RecipientKind
from maild.store import Store, open_for_command, transaction
from maild.store import settings as store_settings
from maild.tokens import KeySet

KEYS = KeySet({"a": b"k" * 32}, "a")
AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def submission(queue_id: str, department: str | None) -> spool.Submission:
    return spool.Submission(queue_id, "agent@helpdesk.example.com", (spool.SpoolRecipient("a@example.net", RecipientKind.TO),),
                            b"Subject: x\r\n\r\n", b"hi\r\n", AT, ticket=queue_id, department=department)


def test_with_nothing_stored_the_default_is_on_as_in_the_views(tmp_path) -> None:
    db = open_for_command(tmp_path / "maild.db")
    spooled = transaction(db, lambda d: spool.enqueue(d, submission("Q1", "Billing"), KEYS))
    (row,) = db.execute("SELECT receipts_enabled FROM message_visibility").fetchall()
    assert (store_settings.receipts_default(db), spooled.receipts_requested, row[0]) == (True, True, 1)
    db.conn.close()


def test_a_command_stores_its_configured_default_and_none_leaves_it(tmp_path) -> None:
    db = open_for_command(tmp_path / "maild.db", receipts_default=False)
    assert store_settings.receipts_default(db) is False
    db.conn.close()
    db = open_for_command(tmp_path / "maild.db")  # a command that does not know the configuration
    assert store_settings.receipts_default(db) is False
    db.conn.close()
    db = open_for_command(tmp_path / "maild.db", receipts_default=True)
    assert store_settings.receipts_default(db) is True
    db.conn.close()


async def test_the_daemon_store_stores_it_at_open_and_intake_reads_it(tmp_path) -> None:
    store = Store(tmp_path / "maild.db", receipts_default=False)
    await asyncio.to_thread(store.open)
    try:
        off = await store.write(lambda db: spool.enqueue(db, submission("Q1", "Billing"), KEYS))
        assert off.receipts_requested is False  # no department setting: the stored default (off) decides
        await store.write(lambda db: store_settings.set_receipts_default(db, True))
        on = await store.write(lambda db: spool.enqueue(db, submission("Q2", "Billing"), KEYS))
        assert on.receipts_requested is True
        visible = await store.read(lambda db: queries.Visibility(db)("Billing"))
        assert visible is True
    finally:
        await asyncio.to_thread(store.close)


def test_the_sql_views_and_queries_agree_on_the_stored_default(tmp_path) -> None:
    db = open_for_command(tmp_path / "maild.db", receipts_default=False)
    transaction(db, lambda d: spool.enqueue(d, submission("Q1", "Sales"), KEYS))
    (view,) = db.execute("SELECT receipts_enabled FROM reply_status WHERE ticket = 'Q1'").fetchall()
    info = queries.load_thread(db, "Q1")
    db.conn.close()
    assert info is not None
    assert (bool(view[0]), info.receipts_enabled) == (False, False)
