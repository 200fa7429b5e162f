"""The per-department read-receipt switch, kept in the store so a change applies live."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlite_utils

from maild.clock import iso


@dataclass(frozen=True, slots=True)
class Department:
    name: str  # as configured / first seen
    receipts_enabled: bool
    explicit: bool  # False: follows tracking.receipts_default


def key(name: str) -> str:
    """Department names match case-insensitively."""
    return name.strip().casefold()


def receipts_enabled(db: sqlite_utils.Database, name: str | None, default: bool) -> bool:
    if not name:
        return default
    row = db.execute("SELECT receipts_enabled FROM departments WHERE key = ?", (key(name),)).fetchone()
    return default if row is None else bool(row[0])


def set_receipts(db: sqlite_utils.Database, name: str, enabled: bool, now: datetime) -> Department:
    db.execute(
        """INSERT INTO departments (key, name, receipts_enabled, updated_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (key) DO UPDATE SET receipts_enabled = excluded.receipts_enabled,
                                           updated_at = excluded.updated_at""",
        (key(name), name.strip(), int(enabled), iso(now)),
    )
    row = db.execute("SELECT name FROM departments WHERE key = ?", (key(name),)).fetchone()
    return Department(row[0], enabled, True)


def list_departments(db: sqlite_utils.Database) -> list[Department]:
    """Every department with an explicit setting, by name."""
    rows = db.execute("SELECT name, receipts_enabled FROM departments ORDER BY key").fetchall()
    return [Department(name, bool(enabled), True) for name, enabled in rows]


def stored_default(db: sqlite_utils.Database, fallback: bool) -> bool:
    """The default for departments with no setting, as the SQL views see it (see `sync_default`)."""
    row = db.execute("SELECT value FROM status_settings WHERE name = 'receipts_default'").fetchone()
    return fallback if row is None else row[0] == "1"


def sync_default(db: sqlite_utils.Database, default: bool) -> bool:
    """Store tracking.receipts_default for the SQL views; returns True when it changed. Run in a write transaction."""
    row = db.execute("SELECT value FROM status_settings WHERE name = 'receipts_default'").fetchone()
    value = "1" if default else "0"
    if row is not None and row[0] == value:
        return False
    db.execute(
        "INSERT INTO status_settings (name, value) VALUES ('receipts_default', ?)"
        " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        (value,),
    )
    return True
