"""Settings the store keeps for every reader: the read-receipts default of departments with no setting of their own.

``tracking.receipts_default`` is given to the store once, when it is opened
(``Store(receipts_default=...)``, ``open_for_command(receipts_default=...)``)
or when the daemon reloads, and written here by ``set_receipts_default``
alone. Everyone else reads it from the database: the SQL views (for
helpdesks reading the file directly), maild's queries, intake (whether a copy
asks for a read receipt) and delivery, so all of them agree.
"""

from __future__ import annotations

from maild.core.sqldb import Db

_NAME = "receipts_default"
# The stored value as a scalar subquery, for a read that wants it in a statement of its own (decode with `default_of`).
RECEIPTS_DEFAULT_SQL = f"(SELECT value FROM status_settings WHERE name = '{_NAME}')"


def default_of(value: object) -> bool:
    """The stored value read as the default: on (as the views' COALESCE) when no configuration was ever stored."""
    return value is None or value == "1"


def receipts_default(db: Db) -> bool:
    """The stored default; on when no configuration was ever stored."""
    row = db.execute("SELECT value FROM status_settings WHERE name = ?", (_NAME,)).fetchone()
    return default_of(None if row is None else row[0])


def set_receipts_default(db: Db, value: bool) -> bool:
    """Store the configured default; True when it changed. Run in a write transaction."""
    text = "1" if value else "0"
    row = db.execute("SELECT value FROM status_settings WHERE name = ?", (_NAME,)).fetchone()
    if row is not None and row[0] == text:
        return False
    db.execute(
        "INSERT INTO status_settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        (_NAME, text),
    )
    return True
