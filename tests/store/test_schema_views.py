"""Migration 9's views give migration 7's columns and rows: on every status case and on random histories."""

from __future__ import annotations

import random
import re

import pytest

from maild.core.events import EventKind
from maild.store import schema_sources, schema_status
from tests.support.builders import Builder
from tests.support.status_cases import CASES, load_cases

VIEWS = ("recipient_status", "reply_status", "ticket_status")
KINDS = [str(k) for k in EventKind]
DEPARTMENTS = ("Billing", "Legal", "Sales", None)


def _as_before(sql: str) -> str:
    """A shipped view's text, each view renamed VIEW_m7, so both versions live in one database."""
    for view in VIEWS:
        sql = re.sub(rf"\b{view}\b", f"{view}_m7", sql)
    return sql


def _add_migration_7_views(b: Builder) -> None:
    for sql in (schema_sources.recipient_status_view(), schema_status._REPLY_STATUS, schema_status._TICKET_STATUS):
        b.db.execute(_as_before(sql))
    b.db.conn.commit()


def _random_histories(b: Builder, rng: random.Random, replies: int) -> None:
    """Replies of up to four recipients with up to eight events each, of every kind, with ties in time."""
    b.receipts("Legal", False)
    b.receipts("Sales", True)
    rows = []
    for n in range(replies):
        recipients = [(f"r{n}-{i}@example.net", rng.choice(("to", "cc", "bcc"))) for i in range(rng.randint(1, 4))]
        reply = b.reply(str(rng.randint(1, replies // 3)), recipients, department=rng.choice(DEPARTMENTS))
        for rid in reply.recipients.values():
            for _ in range(rng.randint(0, 8)):
                at = f"2026-03-01T09:{rng.randint(0, 5):02d}:00.000Z"  # few distinct times: ties by id
                rows.append((rid, reply.message, rng.choice(KINDS), at, at, rng.choice(("dsn", "mdn", "pixel")),
                             rng.choice((None, "human", "machine")), rng.choice((None, "5.1.1")),
                             rng.choice((None, "host; Thunderbird 128", "host; Outlook")),
                             rng.choice((None, "mx.example.net"))))
    b.db.conn.executemany(
        "INSERT INTO events (recipient, message, kind, at, recorded_at, source, action, status, reporting_ua,"
        " reporting_mta) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    b.db.conn.commit()


def _compare(b: Builder) -> int:
    """Every view against its migration-7 self: column names and all rows, whole and by ticket."""
    compared = 0
    tickets = [t for (t,) in b.db.execute("SELECT DISTINCT ticket FROM messages ORDER BY ticket LIMIT 12")]
    for view in VIEWS:
        now = b.db.execute(f"SELECT * FROM {view} ORDER BY 1, 2")
        before = b.db.execute(f"SELECT * FROM {view}_m7 ORDER BY 1, 2")
        assert [d[0] for d in now.description] == [d[0] for d in before.description]
        rows = now.fetchall()
        assert rows == before.fetchall(), view
        compared += len(rows)
        for t in tickets:  # a WHERE the query flattener pushes into the view: another plan, the same rows
            assert (b.db.execute(f"SELECT * FROM {view} WHERE ticket IS ? ORDER BY 1, 2", (t,)).fetchall()
                    == b.db.execute(f"SELECT * FROM {view}_m7 WHERE ticket IS ? ORDER BY 1, 2", (t,)).fetchall())
    return compared


@pytest.mark.parametrize("machine", ["0", "1"])
def test_the_views_agree_with_migration_7_on_every_status_case(tmp_path, machine: str) -> None:
    b = Builder(tmp_path / "maild.db")
    load_cases(b)
    b.db.execute("INSERT OR REPLACE INTO status_settings (name, value) VALUES ('pixel_count_machine', ?)", (machine,))
    _add_migration_7_views(b)
    assert _compare(b) > len(CASES)
    b.close()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_views_agree_with_migration_7_on_random_histories(tmp_path, seed: int) -> None:
    rng = random.Random(seed)
    b = Builder(tmp_path / "maild.db")
    _random_histories(b, rng, 60)
    b.db.execute("INSERT OR REPLACE INTO status_settings (name, value) VALUES ('pixel_count_machine', ?)",
                 (str(seed % 2),))
    _add_migration_7_views(b)
    states = {s for (s,) in b.db.execute("SELECT DISTINCT state FROM recipient_status")}
    assert {"read", "declined", "deleted_unread", "bounced", "failed", "delivered"} <= states  # the cases are covered
    assert {s for (s,) in b.db.execute("SELECT DISTINCT read_via FROM recipient_status")} >= {"mdn", "reply", "pixel"}
    assert _compare(b) > 60
    b.close()
