"""Schema of the opt-in open pixel (migration 5): the per-department pixel switch, off unless switched on."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils


def migrate(db: sqlite_utils.Database) -> None:
    db.execute(
        """CREATE TABLE department_pixel (
               key TEXT PRIMARY KEY,         -- the department name casefolded, as departments.key
               name TEXT NOT NULL,           -- as first switched
               enabled INTEGER NOT NULL,     -- 1: tracked copies get the pixel (with receipts on)
               updated_at TEXT NOT NULL)"""
    )
