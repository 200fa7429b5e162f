"""The per-department read-receipt switch, kept in the store so a change applies live."""

from __future__ import annotations

from datetime import datetime

from maild.clock import iso
from maild.core.frozen import field, frozen
from maild.core.jsonvalue import HIDDEN
from maild.core.sqldb import Db


@frozen
class Department:
    name: str  # as configured / first seen
    receipts_enabled: bool
    explicit: bool  # False: follows tracking.receipts_default (as the store keeps it: maild.store.settings)


def key(name: str) -> str:
    """Department names match case-insensitively."""
    return name.strip().casefold()


def switched_on(name: str | None, own: object, default: bool) -> bool:
    """The switch rule: a department's own stored switch when it has one (`own` not None), else the default."""
    return default if not name or own is None else bool(own)


def receipts_enabled(db: Db, name: str | None, default: bool) -> bool:
    if not name:
        return default
    row = db.execute("SELECT receipts_enabled FROM departments WHERE key = ?", (key(name),)).fetchone()
    return switched_on(name, None if row is None else row[0], default)


@frozen
class Switch:
    """One change of a department's read-receipt switch: to what, when, by whom and from where.

    Shown in JSON under its department (`last_switch`), so without the name again."""

    name: str = field(metadata=HIDDEN)
    receipts_enabled: bool
    at: str
    by: str | None  # the panel user or the API; None from the CLI (whoever runs it on the host)
    via: str  # web, api, cli


def set_receipts(
    db: Db, name: str, enabled: bool, now: datetime, *, by: str | None = None, via: str = "cli"
) -> Department:
    """Switch a department's read receipts and record who did it (department_switches). In a write transaction."""
    db.execute(
        "INSERT INTO department_switches (key, name, receipts_enabled, by, via, at) VALUES (?, ?, ?, ?, ?, ?)",
        (key(name), name.strip(), int(enabled), by, via, iso(now)),
    )
    db.execute(
        """INSERT INTO departments (key, name, receipts_enabled, updated_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (key) DO UPDATE SET receipts_enabled = excluded.receipts_enabled,
                                           updated_at = excluded.updated_at""",
        (key(name), name.strip(), int(enabled), iso(now)),
    )
    row = db.execute("SELECT name FROM departments WHERE key = ?", (key(name),)).fetchone()
    return Department(row[0], enabled, True)


def last_switches(db: Db) -> dict[str, Switch]:
    """The latest recorded switch of every department that has one, by key."""
    rows = db.execute(
        """SELECT s.key, s.name, s.receipts_enabled, s.at, s.by, s.via FROM department_switches s
            WHERE s.id = (SELECT max(id) FROM department_switches t WHERE t.key = s.key)"""
    ).fetchall()
    return {str(k): Switch(name, bool(on), at, by, via) for k, name, on, at, by, via in rows}


def switch_history(db: Db, name: str, limit: int = 20) -> list[Switch]:
    """A department's recorded switches, newest first."""
    rows = db.execute(
        "SELECT name, receipts_enabled, at, by, via FROM department_switches WHERE key = ? ORDER BY id DESC LIMIT ?",
        (key(name), limit),
    ).fetchall()
    return [Switch(n, bool(on), at, by, via) for n, on, at, by, via in rows]


def list_departments(db: Db) -> list[Department]:
    """Every department with an explicit setting, by name."""
    rows = db.execute("SELECT name, receipts_enabled FROM departments ORDER BY key").fetchall()
    return [Department(name, bool(enabled), True) for name, enabled in rows]


# ------------------------------------------------------------------ the open pixel (off unless switched on)


def pixel_enabled(db: Db, name: str | None) -> bool:
    """Whether tracked copies of this department get the open pixel; never without an explicit switch."""
    if not name:
        return False
    row = db.execute("SELECT enabled FROM department_pixel WHERE key = ?", (key(name),)).fetchone()
    return row is not None and bool(row[0])


def set_pixel(db: Db, name: str, enabled: bool, now: datetime) -> tuple[str, bool]:
    """Switch a department's pixel on or off; returns (name as stored, enabled). Run in a write transaction."""
    db.execute(
        """INSERT INTO department_pixel (key, name, enabled, updated_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (key) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at""",
        (key(name), name.strip(), int(enabled), iso(now)),
    )
    row = db.execute("SELECT name FROM department_pixel WHERE key = ?", (key(name),)).fetchone()
    return str(row[0]), enabled


def pixel_switches(db: Db) -> dict[str, bool]:
    """Every department with a pixel setting, by key."""
    return {str(k): bool(v) for k, v in db.execute("SELECT key, enabled FROM department_pixel")}


def stored_pixel_counting(db: Db) -> bool:
    row = db.execute("SELECT value FROM status_settings WHERE name = 'pixel_count_machine'").fetchone()
    return row is not None and row[0] == "1"


def sync_pixel_counting(db: Db, count_machine_opens: bool) -> None:
    """Store [pixel] count_machine_opens for the SQL views (status_settings.pixel_count_machine). In a write transaction."""
    db.execute(
        "INSERT INTO status_settings (name, value) VALUES ('pixel_count_machine', ?)"
        " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        ("1" if count_machine_opens else "0",),
    )
