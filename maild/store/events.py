"""Recording events: the one path by which anything learned about a recipient enters the store.

Recording is idempotent: an event with a natural key (report fingerprint,
recipient, kind) that was already recorded is ignored, so a report seen twice
produces one event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlite_utils

from maild.clock import iso
from maild.model import EventKind, StatusRecord


@dataclass(frozen=True, slots=True)
class NewEvent:
    recipient_id: int
    message_id: int  # messages.id
    kind: EventKind
    at: datetime
    source: str
    record: StatusRecord = StatusRecord()
    detail: dict[str, Any] | None = None
    natural_key: str | None = None


def record_event(db: sqlite_utils.Database, event: NewEvent, *, recorded_at: datetime) -> int | None:
    """Insert one event; returns its id, or None when its natural key was already recorded."""
    r = event.record
    cursor = db.execute(
        """INSERT INTO events (recipient, message, kind, at, recorded_at, source, status, action, reason,
                               hard, diagnostic, remote_mta, reply_code, detail, natural_key)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (natural_key) DO NOTHING""",
        (
            event.recipient_id,
            event.message_id,
            str(event.kind),
            iso(event.at),
            iso(recorded_at),
            event.source,
            r.status,
            r.action,
            r.reason,
            None if r.hard is None else int(r.hard),
            r.diagnostic,
            r.remote_mta,
            r.reply_code,
            json.dumps(event.detail, ensure_ascii=False, sort_keys=True) if event.detail else None,
            event.natural_key,
        ),
    )
    if cursor.rowcount == 0:
        return None
    return int(cursor.lastrowid)
