"""The database schema as an ordered list of migrations; `PRAGMA user_version` counts how many ran.

Append new migrations at the end; never edit one that has shipped. Each runs
in the transaction that also bumps user_version, so a crash leaves either the
old or the new schema.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from maild.store import (
    schema_helpdesk,
    schema_inbound,
    schema_ingest,
    schema_panel,
    schema_pixel,
    schema_settings,
    schema_sources,
    schema_status,
    schema_subjects,
    schema_views,
)

if TYPE_CHECKING:
    import sqlite_utils

Migration = Callable[["sqlite_utils.Database"], None]


def _v1_spool_and_events(db: sqlite_utils.Database) -> None:
    """Messages and recipients (the spool), the event log, departments."""
    db.table("messages").create(
        {
            "id": int,
            "queue_id": str,  # shown to the client in "250 2.0.0 queued as ID"
            "message_id": str,  # the Message-ID header, with angle brackets
            "ticket": str,
            "department": str,
            "sender": str,  # envelope sender as received
            "subject": str,
            "size": int,
            "peer": str,
            "received_at": str,
            "tracked": int,  # 0: relayed as is in one copy, no tokens
            "receipts_requested": int,  # Disposition-Notification-To added
            "held": int,
            "headers": bytes,  # the header block relayed: internal headers stripped, a Message-ID added when missing
            "body": bytes,  # NULL once every recipient is final
            "finished_at": str,
        },
        pk="id",
        not_null={"queue_id", "sender", "received_at", "headers"},
        defaults={"tracked": 1, "receipts_requested": 0, "held": 0, "size": 0},
    )
    db.table("messages").create_index(["queue_id"], unique=True)
    db.table("messages").create_index(["ticket"])
    db.table("messages").create_index(["message_id"])
    db.table("recipients").create(
        {
            "id": int,
            "message": int,
            "address": str,
            "kind": str,  # to, cc, bcc
            "token": str,
            "delivery_state": str,  # maild.model.DeliveryState
            "attempts": int,
            "next_attempt_at": str,
            "last_reply": str,
            "updated_at": str,
        },
        pk="id",
        foreign_keys=[("message", "messages", "id")],
        not_null={"message", "address", "kind", "delivery_state"},
        defaults={"attempts": 0},
    )
    db.table("recipients").create_index(["message"])
    db.table("recipients").create_index(["delivery_state", "next_attempt_at"])
    db.table("recipients").create_index(["token"], unique=True)
    db.table("recipients").create_index(["address"])
    db.table("events").create(
        {
            "id": int,
            "recipient": int,
            "message": int,
            "kind": str,  # maild.model.EventKind
            "at": str,  # when it happened (the report's own date when it has a sane one)
            "recorded_at": str,  # when maild learned it
            "source": str,  # migration 4 made it maild.core.events.EventSource; before, ingest wrote its via here
            "status": str,
            "action": str,
            "reason": str,
            "hard": int,
            "diagnostic": str,
            "remote_mta": str,
            "reply_code": int,
            "detail": str,  # JSON: report headers and per-recipient fields, never a body
            "natural_key": str,  # makes recording idempotent: same key, no second event
        },
        pk="id",
        foreign_keys=[("recipient", "recipients", "id"), ("message", "messages", "id")],
        not_null={"recipient", "message", "kind", "at", "recorded_at", "source"},
    )
    db.table("events").create_index(["recipient", "id"])
    db.table("events").create_index(["message", "id"])
    db.table("events").create_index(["natural_key"], unique=True)
    db.table("departments").create(
        {"key": str, "name": str, "receipts_enabled": int, "updated_at": str},
        pk="key",
        not_null={"name", "receipts_enabled"},
    )


MIGRATIONS: list[Migration] = [
    _v1_spool_and_events,
    schema_ingest.migrate,  # 2
    schema_status.migrate,  # 3
    schema_inbound.migrate,  # 4
    schema_pixel.migrate,  # 5
    schema_helpdesk.migrate,  # 6
    schema_sources.migrate,  # 7
    schema_panel.migrate,  # 8
    schema_views.migrate,  # 9
    schema_settings.migrate,  # 10
    schema_subjects.migrate,  # 11
]
