"""Schema of the helpdesk integration (migration 4): which preset matched a message, its helpdesk ids, the write-back outbox.

`messages.helpdesk` is the preset name, `messages.helpdesk_ids` a JSON object of
the helpdesk's internal ids found in the mail (Zammad's ticket id, FreeScout's
thread, GLPI's item and event...), which write-back needs. The outbox holds one
row per (write-back target, recipient, state): its UNIQUE natural key is what
makes a write-back happen at most once, across retries and restarts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils


def migrate(db: sqlite_utils.Database) -> None:
    db.execute("ALTER TABLE messages ADD COLUMN helpdesk TEXT")
    db.execute("ALTER TABLE messages ADD COLUMN helpdesk_ids TEXT")
    db.table("writeback_outbox").create(
        {
            "id": int,
            "target": str,  # the [[writeback]] name
            "natural_key": str,  # target/recipient/state: at most one write per recipient and state
            "message": int,
            "recipient": int,
            "event": int,  # the event that made the state
            "state": str,  # the recipient state written (delivered, read, bounced...)
            "status": str,  # pending, done, refused (the helpdesk said no for good)
            "attempts": int,
            "next_attempt_at": str,
            "last_error": str,
            "created_at": str,
            "done_at": str,
        },
        pk="id",
        not_null={"target", "natural_key", "message", "recipient", "state", "status", "created_at"},
        defaults={"attempts": 0},
    )
    db.table("writeback_outbox").create_index(["natural_key"], unique=True)
    db.table("writeback_outbox").create_index(["target", "status", "next_attempt_at"])
    db.table("writeback_cursors").create(
        {"target": str, "last_event": int, "updated_at": str}, pk="target", not_null={"last_event", "updated_at"}
    )
