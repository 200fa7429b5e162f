"""Retention per event kind (the daemon's loop), and erasure with anonymous counts."""

from __future__ import annotations

import asyncio
import time

import pytest

from maild import config, retention
from maild.store import Store
from tests.support.builders import Builder, at


def settings_for(tmp_path, **retention_table):
    return config.parse({"store": {"path": "maild.db"}, "retention": retention_table}, tmp_path / "maild.toml")


def seed(b: Builder) -> None:
    r = b.reply("9", [("a@example.net", "to")], minutes=0)
    b.event(r, "a@example.net", "accepted", 1)
    b.event(r, "a@example.net", "displayed", 60 * 24 * 10)  # ten days later


def test_cutoffs_follow_kind_overrides_and_keep_forever_when_zero(tmp_path) -> None:
    s = settings_for(tmp_path, events="365d", kinds={"displayed": "30d", "queued": "0"})
    limits = retention.cutoffs(s.retention, at(0))
    assert limits["displayed"] == "2026-01-30T09:00:00.000Z"
    assert limits["accepted"] == "2025-03-01T09:00:00.000Z"
    assert "queued" not in limits


def test_nothing_is_deleted_by_default(tmp_path) -> None:
    assert retention.cutoffs(settings_for(tmp_path).retention, at(0)) == {}


async def test_retention_loop_deletes_only_expired_kinds_and_counts_them(tmp_path) -> None:
    s = settings_for(tmp_path, kinds={"queued": "1d", "accepted": "1d"})
    b = Builder(s.store.path)
    seed(b)
    store = Store(s.store.path)
    await asyncio.to_thread(store.open)
    stop = asyncio.Event()
    now = at(60 * 24 * 5)  # five days after the reply: queued and accepted are older than a day
    task = asyncio.create_task(retention.retention_loop(s, store, lambda: now, stop=stop))
    deadline = time.monotonic() + 60
    while (await store.read(lambda db: db.execute("SELECT count(*) FROM events").fetchone()[0])) != 1:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    stop.set()
    await task
    kinds = await store.read(lambda db: [r[0] for r in db.execute("SELECT kind FROM events")])
    counts = await store.read(lambda db: db.execute(
        "SELECT kind, cause, count FROM erased_counts ORDER BY kind").fetchall())
    await asyncio.to_thread(store.close)
    b.close()
    assert kinds == ["displayed"]
    assert counts == [("accepted", "retention", 1), ("queued", "retention", 1)]


def test_purge_batch_stops_at_the_batch_size(tmp_path) -> None:
    b = Builder(tmp_path / "maild.db")
    for n in range(3):
        seed(b)
    limits = {"queued": "2099-01-01T00:00:00.000Z"}
    first = b.write(lambda db: retention.purge_batch(db, limits, cause="retention", batch=2))
    rest = b.write(lambda db: retention.purge_batch(db, limits, cause="retention", batch=2))
    assert (first.deleted, rest.deleted) == (2, 1)
    b.close()


def test_forget_scrubs_the_address_from_stored_headers(tmp_path) -> None:
    b = Builder(tmp_path / "maild.db")
    seed(b)
    b.db.execute("UPDATE messages SET headers = ?", (b"To: A@example.net\r\nSubject: x\r\n",))
    result = b.write(lambda db: retention.forget(db, "a@example.net"))
    headers = b.db.execute("SELECT headers FROM messages").fetchone()[0]
    b.close()
    assert result.messages_scrubbed == 1
    assert b"example.net" not in headers.replace(b"erased@invalid", b"")


def test_forget_keeps_other_recipients(tmp_path) -> None:
    b = Builder(tmp_path / "maild.db")
    r = b.reply("9", [("a@example.net", "to"), ("b@example.net", "cc")])
    b.event(r, "b@example.net", "accepted", 1)
    b.write(lambda db: retention.forget(db, "a@example.net"))
    rows = b.view("SELECT address, state FROM recipient_status ORDER BY recipient_id")
    b.close()
    assert rows == [{"address": "(erased)", "state": "queued"}, {"address": "b@example.net", "state": "delivered"}]


def test_forget_gives_up_undelivered_copies_instead_of_sending_to_the_erased_address(tmp_path) -> None:
    b = Builder(tmp_path / "maild.db")
    b.reply("10", [("late@example.net", "to")], minutes=0)
    b.db.execute("UPDATE recipients SET delivery_state = 'deferred'")
    b.write(lambda db: retention.forget(db, "late@example.net"))
    state = b.db.execute("SELECT delivery_state, address FROM recipients").fetchone()
    b.close()
    assert state == ("failed", retention.ERASED_ADDRESS)


def test_forget_deletes_quarantined_receipts_that_mention_the_address(tmp_path) -> None:
    b = Builder(tmp_path / "maild.db")
    seed(b)
    for n, raw in enumerate([b"Final-Recipient: rfc822; A@Example.net\r\n", b"unrelated@example.org\r\n"]):
        b.db.execute(
            "INSERT INTO quarantine (fingerprint, source, reason, received_at, raw, state) VALUES (?, 'pipe', 'no_match', ?, ?, 'held')",
            (f"fp{n}", "2026-01-01T00:00:00.000Z", raw),
        )
    result = b.write(lambda db: retention.forget(db, "a@example.net"))
    left = [r[0] for r in b.db.execute("SELECT fingerprint FROM quarantine")]
    b.close()
    assert result.quarantine_erased == 1
    assert left == ["fp1"]


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        (b"To: an@example.com\r\n", True),
        (b"To: <AN@Example.COM>, x@y\r\n", True),
        (b"write to an@example.com.\r\n", True),
        (b"To: jan@example.com\r\n", False),
        (b"To: joan.an@example.com\r\n", False),
        (b"To: an@example.com.au\r\n", False),
        (b"To: an@example.community\r\n", False),
    ],
)
def test_forget_matches_the_whole_address_only(text, hit) -> None:
    assert bool(retention.address_pattern("an@example.com").search(text)) is hit


def test_forget_leaves_a_similar_address_alone(tmp_path) -> None:
    b = Builder(tmp_path / "maild.db")
    b.reply("11", [("jan@example.com", "to")], minutes=0)
    b.db.execute("UPDATE messages SET headers = ?", (b"To: jan@example.com\r\nSubject: x\r\n",))
    b.db.execute(
        "INSERT INTO quarantine (fingerprint, source, reason, received_at, raw, state) VALUES ('fpj', 'pipe', 'no_match', ?, ?, 'held')",
        ("2026-01-01T00:00:00.000Z", b"Final-Recipient: rfc822; jan@example.com\r\n"),
    )
    result = b.write(lambda db: retention.forget(db, "an@example.com"))
    headers = b.db.execute("SELECT headers FROM messages").fetchone()[0]
    held = b.db.execute("SELECT count(*) FROM quarantine").fetchone()[0]
    b.close()
    assert (result.recipients, result.messages_scrubbed, result.quarantine_erased) == (0, 0, 0)
    assert headers == b"To: jan@example.com\r\nSubject: x\r\n" and held == 1
