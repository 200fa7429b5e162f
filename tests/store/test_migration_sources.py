"""Migration 4 on a database made by the previous schema: events get source = the report kind, via, reporting MTA/UA."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from maild import queries
from maild.core.events import EventSource, Via
from maild.store.db import open_db, schema_version
from maild.store.schema import MIGRATIONS

V3 = Path(__file__).resolve().parents[1] / "data" / "store" / "schema_v3.sql"


def v3_database(path: Path, *extra_sql: str) -> Path:
    """The dump tests/data/store/make_schema_v3.py took of a database maild 0951045 wrote, loaded into a file."""
    conn = sqlite3.connect(path)
    conn.executescript(V3.read_text())
    for sql in extra_sql:
        conn.execute(sql)
    conn.commit()
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 3
    conn.close()
    return path


@pytest.fixture
def migrated(tmp_path: Path):
    db = open_db(v3_database(tmp_path / "maild.db"))
    yield db
    db.conn.close()


def by_address(db, kind: str) -> dict[str, dict]:
    sql = """SELECT r.address, e.* FROM events e JOIN recipients r ON r.id = e.recipient WHERE e.kind = ?"""
    return {row["address"]: row for row in db.query(sql, [kind])}


def test_the_fixture_is_of_the_previous_schema(tmp_path: Path) -> None:
    conn = sqlite3.connect(v3_database(tmp_path / "old.db"))
    sources = {s for (s,) in conn.execute("SELECT DISTINCT source FROM events")}
    columns = {c[1] for c in conn.execute("PRAGMA table_info(events)")}
    conn.close()
    assert sources == {"smtp", "admin", "imap", "maildir", "lmtp", "pipe"}
    assert "via" not in columns


def test_source_becomes_the_report_kind_and_via_the_old_source(migrated) -> None:
    assert schema_version(migrated) == len(MIGRATIONS)
    got = {(r["kind"], r["address"]): (r["source"], r["via"])
           for r in migrated.query("SELECT e.kind, r.address, e.source, e.via FROM events e"
                                   " JOIN recipients r ON r.id = e.recipient WHERE e.kind NOT IN ('queued', 'accepted')")}
    assert got == {
        ("failed", "failed@example.net"): ("smtp", None),
        ("delivered", "dsn@example.net"): ("dsn", "maildir"),
        ("bounced", "bounce@example.net"): ("dsn", "imap"),  # a DSN, not the heuristic bounce its kind suggests
        ("displayed", "mdn@example.net"): ("mdn", "imap"),
        ("bounced", "gone@example.net"): ("bounce", "lmtp"),
        ("autoreplied", "auto@example.net"): ("autoreply", "pipe"),
        ("complained", "arf@example.net"): ("arf", "pipe"),
        ("failed", "deleted@example.net"): ("admin", None),
    }
    assert {r["source"] for r in migrated.query("SELECT source FROM events WHERE kind IN ('queued', 'accepted')")} == {
        "smtp"}


def test_reporting_mta_and_ua_come_back_from_the_detail(migrated) -> None:
    assert by_address(migrated, "bounced")["bounce@example.net"]["reporting_mta"] == "relay.example.net"
    assert by_address(migrated, "delivered")["dsn@example.net"]["reporting_mta"] == "mx.example.net"
    assert by_address(migrated, "displayed")["mdn@example.net"]["reporting_ua"] == "Mozilla Thunderbird 115"
    assert by_address(migrated, "bounced")["gone@example.net"]["reporting_mta"] is None  # the bounce named none


def test_the_rest_of_an_event_is_untouched(tmp_path: Path, migrated) -> None:
    old = sqlite3.connect(v3_database(tmp_path / "old.db"))
    old.row_factory = sqlite3.Row
    keep = ("id", "recipient", "message", "kind", "at", "recorded_at", "status", "action", "reason", "hard",
            "diagnostic", "remote_mta", "reply_code", "detail", "natural_key")
    before = [tuple(r[k] for k in keep) for r in old.execute("SELECT * FROM events ORDER BY id")]
    old.close()
    after = [tuple(r[k] for k in keep) for r in migrated.query("SELECT * FROM events ORDER BY id")]
    assert after == before


def test_views_show_the_failure_via_and_reporter_and_the_reading_ua(migrated) -> None:
    rows = {r["address"]: r for r in migrated.query("SELECT * FROM recipient_status")}
    bounce = rows["bounce@example.net"]
    assert (bounce["state"], bounce["failure_source"], bounce["failure_via"], bounce["failure_reporting_mta"]) == (
        "bounced", "dsn", "imap", "relay.example.net")
    assert rows["mdn@example.net"]["read_reporting_ua"] == "Mozilla Thunderbird 115"
    assert rows["failed@example.net"]["failure_via"] is None
    assert list(migrated.query("SELECT state FROM reply_status WHERE ticket = '1234'")) == [{"state": "read_by_to"}]
    assert [r["ticket"] for r in migrated.query("SELECT ticket FROM ticket_status ORDER BY ticket")] == ["1234", "1235"]


def test_events_and_status_read_the_migrated_rows(migrated) -> None:
    page = queries.list_events(migrated)
    read = next(e for e in page.events if e.kind == "displayed")
    assert (read.source, read.via, read.record.reporting_ua) == (EventSource.MDN, Via.IMAP, "Mozilla Thunderbird 115")
    info = queries.load_thread(migrated, "1234")
    assert info is not None
    failure = {r.address: r.failure for r in info.replies[0].recipients}["bounce@example.net"]
    assert failure is not None and failure.source == EventSource.DSN


def test_rows_without_a_readable_detail_get_the_source_their_kind_implies(tmp_path: Path) -> None:
    """Rows no maild wrote (no detail, or not JSON): read kinds are mdn, delivered is dsn, bounced is bounce."""
    hand = ("INSERT INTO events (recipient, message, kind, at, recorded_at, source, detail)"
            " VALUES (1, 1, '{kind}', '2026-03-02T00:00:00.000Z', '2026-03-02T00:00:00.000Z', '{source}', {detail})")
    db = open_db(v3_database(
        tmp_path / "maild.db",
        hand.format(kind="deleted", source="imap", detail="NULL"),
        hand.format(kind="relayed", source="maildir", detail="'not json'"),
        hand.format(kind="delayed", source="lmtp", detail="'{\"report\": {}}'"),
        hand.format(kind="complained", source="sendmail-pipe", detail="NULL"),
    ))
    rows = list(db.query("SELECT kind, source, via FROM events WHERE at = '2026-03-02T00:00:00.000Z' ORDER BY id"))
    db.conn.close()
    assert rows == [
        {"kind": "deleted", "source": "mdn", "via": "imap"},
        {"kind": "relayed", "source": "dsn", "via": "maildir"},
        {"kind": "delayed", "source": "bounce", "via": "lmtp"},  # a DSN or a bounce: the report is gone
        {"kind": "complained", "source": "arf", "via": None},  # not a way maild knows: the name stays in no column
    ]


def test_a_detail_naming_an_unknown_kind_falls_back_to_the_event_kind(tmp_path: Path) -> None:
    detail = json.dumps({"report": {"kind": "unknown"}})
    db = open_db(v3_database(
        tmp_path / "maild.db",
        "INSERT INTO events (recipient, message, kind, at, recorded_at, source, detail) VALUES"
        f" (1, 1, 'displayed', '2026-03-02T00:00:00.000Z', '2026-03-02T00:00:00.000Z', 'pipe', '{detail}')",
    ))
    (row,) = db.query("SELECT source, via FROM events WHERE at = '2026-03-02T00:00:00.000Z'")
    db.conn.close()
    assert row == {"source": "mdn", "via": "pipe"}
