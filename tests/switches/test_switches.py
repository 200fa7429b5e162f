"""maild.switches: the receipt settings held per connection are the stored ones after any writer's change, and
unchanged settings cost intake and delivery no statement. Real SQLite files; the other writer is another process."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from maild import departments, spool, switches
from maild.core.events import RecipientKind
from maild.delivery.jobs import pick_due
from maild.store import open_for_command, transaction
from maild.store import settings as store_settings
from maild.store.db import CommandDb
from maild.tokens import KeySet

KEYS = KeySet({"a": b"k" * 32}, "a")
AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
SETTINGS_TABLES = ("status_settings", "departments", "department_pixel")


def submission(n: int, department: str | None) -> spool.Submission:
    return spool.Submission(f"Q{n}", "agent@helpdesk.example.com", (spool.SpoolRecipient(f"a{n}@example.net", RecipientKind.TO),),
                            b"Subject: x\r\n\r\n", b"hi\r\n", AT, ticket=str(n), department=department)


class Counter:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.statements: list[str] = []
        conn.set_trace_callback(self.statements.append)

    def settings_reads(self) -> int:
        return sum(any(t in s for t in SETTINGS_TABLES) for s in self.statements)


def other_process(path, sql: str) -> None:
    """Run SQL in a process of its own, as `maild departments` or a helpdesk admin's sqlite3 would."""
    code = ("import sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
            "c.executescript('BEGIN IMMEDIATE;' + sys.argv[2] + ';COMMIT')")
    subprocess.run([sys.executable, "-c", code, str(path), sql], check=True, timeout=60)


@pytest.fixture
def db(tmp_path):
    handle = open_for_command(tmp_path / "maild.db")
    yield handle
    handle.conn.close()


def enqueue(db, n: int, department: str | None) -> bool:
    return transaction(db, lambda d: spool.enqueue(d, submission(n, department), KEYS)).receipts_requested


def test_unchanged_settings_cost_no_statement_and_a_change_is_read_once(db):
    assert enqueue(db, 1, "Sales") is True
    counter = Counter(db.conn)
    assert enqueue(db, 2, "Sales") is True
    assert counter.settings_reads() == 0
    transaction(db, lambda d: departments.set_receipts(d, "Sales", False, AT))
    counter.statements.clear()
    assert enqueue(db, 3, "Sales") is False
    reads = counter.settings_reads()
    assert reads >= 1  # the new settings, read once
    counter.statements.clear()
    assert enqueue(db, 4, "Sales") is False and counter.settings_reads() == 0


def test_a_switch_from_another_process_applies_to_the_next_message_and_pick(db, tmp_path):
    assert enqueue(db, 1, "Sales") is True
    due, messages = pick_due(db, AT + timedelta(days=1), 10)
    assert [m.receipts_requested for m in messages.values()] == [True]
    other_process(tmp_path / "maild.db", "UPDATE departments SET receipts_enabled = 0 WHERE key = 'sales';"
                                         "INSERT INTO departments (key, name, receipts_enabled) VALUES ('sales', 'Sales', 0)"
                                         " ON CONFLICT (key) DO UPDATE SET receipts_enabled = 0")
    assert enqueue(db, 2, "SALES ") is False  # departments match case-insensitively, as departments.key
    due, messages = pick_due(db, AT + timedelta(days=1), 10)
    assert [m.receipts_requested for m in messages.values()] == [False, False]  # the copy queued before it too
    other_process(tmp_path / "maild.db", "DELETE FROM departments WHERE key = 'sales'")
    assert enqueue(db, 3, "Sales") is True  # back to the default


def test_the_pixel_switch_and_the_stored_default_from_another_process(db, tmp_path):
    assert enqueue(db, 1, None) is True
    code = ("import sys; from pathlib import Path; from maild.store import open_for_command; "
            "open_for_command(Path(sys.argv[1]), receipts_default=False).conn.close()")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "maild.db")], check=True, timeout=60)
    assert enqueue(db, 2, None) is False and enqueue(db, 3, "Sales") is False
    transaction(db, lambda d: departments.set_receipts(d, "Sales", True, AT))
    due, messages = pick_due(db, AT + timedelta(days=1), 10)
    assert {m.id: m.pixel for m in messages.values()} == {1: False, 2: False, 3: False}
    other_process(tmp_path / "maild.db", "INSERT INTO department_pixel (key, name, enabled, updated_at)"
                                         " VALUES ('sales', 'Sales', 1, '2026-03-01T09:00:00Z')")
    due, messages = pick_due(db, AT + timedelta(days=1), 10)
    assert {m.id: m.pixel for m in messages.values()} == {1: False, 2: False, 3: True}


def test_an_uncommitted_or_rolled_back_switch_changes_nothing(db, tmp_path):
    assert enqueue(db, 1, "Sales") is True
    other = sqlite3.connect(tmp_path / "maild.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # the write lock held elsewhere: readers go on
    departments.set_receipts(CommandDb(other), "Sales", False, AT)
    due, messages = pick_due(db, AT + timedelta(days=1), 10)
    assert [m.receipts_requested for m in messages.values()] == [True]  # not committed: not seen
    generation = switches.generation(db)
    other.execute("ROLLBACK")  # the trigger's bump goes with the switch
    assert switches.generation(db) == generation
    assert enqueue(db, 2, "Sales") is True
    other.execute("BEGIN IMMEDIATE")
    departments.set_receipts(CommandDb(other), "Sales", False, AT)
    other.execute("COMMIT")
    other.close()
    assert enqueue(db, 3, "Sales") is False


def test_every_change_of_a_settings_table_bumps_the_generation(db):
    start = switches.generation(db)
    transaction(db, lambda d: departments.set_receipts(d, "Sales", False, AT))
    transaction(db, lambda d: departments.set_pixel(d, "Sales", True, AT))
    transaction(db, lambda d: store_settings.set_receipts_default(d, False))
    transaction(db, lambda d: departments.sync_pixel_counting(d, True))
    transaction(db, lambda d: d.execute("DELETE FROM departments"))
    assert switches.generation(db) - start >= 5


@pytest.mark.parametrize("name", [None, "", "Sales", " sales ", "Billing", "ÉQUIPE"])
def test_the_held_answers_are_the_stored_ones(db, name):
    transaction(db, lambda d: departments.set_receipts(d, "Sales", False, AT))
    transaction(db, lambda d: departments.set_receipts(d, "équipe", True, AT))
    transaction(db, lambda d: departments.set_pixel(d, "Équipe", True, AT))
    transaction(db, lambda d: store_settings.set_receipts_default(d, False))
    held = switches.current(db, switches.generation(db))
    assert held.receipts_enabled(name) == departments.receipts_enabled(db, name, store_settings.receipts_default(db))
    assert held.pixel_enabled(name) == departments.pixel_enabled(db, name)


def test_without_the_generation_row_the_settings_are_read_every_time(db, tmp_path):
    assert enqueue(db, 1, "Sales") is True
    other_process(tmp_path / "maild.db", "DELETE FROM settings_generation")  # a hand-made mistake
    assert switches.generation(db) is None
    assert enqueue(db, 2, "Sales") is True  # intake goes on
    other_process(tmp_path / "maild.db", "INSERT INTO departments (key, name, receipts_enabled) VALUES ('sales', 'Sales', 0)")
    assert enqueue(db, 3, "Sales") is False  # and still sees the next switch
    due, messages = pick_due(db, AT + timedelta(days=1), 10)
    assert [m.receipts_requested for m in messages.values()] == [False, False, False]


def test_settings_are_held_per_handle_and_go_with_a_freed_handle(tmp_path):
    first, second = (open_for_command(tmp_path / "maild.db") for _ in range(2))
    made: list[str] = []
    try:
        assert switches.held(first, 7, "k", lambda: made.append("first") or "a") == "a"
        assert switches.held(second, 7, "k", lambda: made.append("second") or "b") == "b"  # never the other handle's
        assert switches.held(first, 7, "k", lambda: made.append("again") or "c") == "a"  # held
        assert switches.held(first, 8, "k", lambda: made.append("new generation") or "d") == "d"
        assert made == ["first", "second", "new generation"]
    finally:
        first.conn.close()
        second.conn.close()
    held_before = len(switches._held)
    del first
    assert len(switches._held) == held_before - 1  # the freed handle's entry went with it
    second_id = id(second)
    del second
    assert second_id not in switches._held
