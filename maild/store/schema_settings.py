"""Schema migration 10: a settings generation that every change of a receipt setting bumps, in its own transaction.

`settings_generation.n` goes up by one with every INSERT, UPDATE or DELETE of
`departments` (the read-receipt switches), `department_pixel` (the open pixel
switches) and `status_settings` (the stored receipts default, pixel counting).
Triggers do it, so every writer bumps it whatever it is: the daemon's HTTP API
and web panel, `maild departments` in a process of its own, an older maild, a
helpdesk admin's own SQL. Intake and delivery keep the settings in memory and
read only this number to know whether they still hold (maild.switches).
A later migration that remakes one of these tables must make its triggers again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils

TABLES = ("departments", "department_pixel", "status_settings")


def migrate(db: sqlite_utils.Database) -> None:
    db.execute("CREATE TABLE settings_generation (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL)")
    db.execute("INSERT INTO settings_generation (id, n) VALUES (1, 0)")
    for table in TABLES:
        for change in ("INSERT", "UPDATE", "DELETE"):
            db.execute(
                f"""CREATE TRIGGER {table}_{change.lower()}_generation AFTER {change} ON {table} BEGIN
                        UPDATE settings_generation SET n = n + 1;
                    END"""
            )
