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
