"""Recording events: the one path by which anything learned about a recipient enters the store.

Recording is idempotent: an event with a natural key (report fingerprint,
recipient, kind) that was already recorded is ignored, so a report seen twice
produces one event.
"""

from __future__ import annotations

import json
from datetime import datetime

from maild.core.events import EventKind, EventSource, Via
from maild.core.frozen import frozen
from maild.core.record import EMPTY, StatusRecord
from maild.core.times import iso
from maild.core.sqldb import Db

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)
if TYPE_CHECKING:
    from typing import Any


@frozen
class NewEvent:
    """One event to record for a recipient, before it has an id."""

    recipient_id: int
    message_id: int  # messages.id
    kind: EventKind
    at: datetime
    source: EventSource  # what the world said
    record: StatusRecord = EMPTY
    detail: dict[str, Any] | None = None
    natural_key: str | None = None
    via: Via | None = None  # how a report reached maild; None for our own acts


_INSERT = """INSERT INTO events (recipient, message, kind, at, recorded_at, source, via, status, action, reason,
                                 hard, diagnostic, remote_mta, reply_code, reporting_mta, reporting_ua, detail,
                                 natural_key)
             VALUES {rows}
             ON CONFLICT (natural_key) DO NOTHING"""
_ROW = "(" + ", ".join("?" * 18) + ")"
_INSERT_ONE = _INSERT.format(rows=_ROW)
CHUNK = 500  # rows per multi-row statement, well under SQLite's limit on parameters


def record_event(db: Db, event: NewEvent, *, recorded_at: datetime) -> int | None:
    """Insert one event; returns its id, or None when its natural key was already recorded."""
    cursor = db.conn.execute(_INSERT_ONE, _values(event, iso(recorded_at)))
    if cursor.rowcount == 0 or cursor.lastrowid is None:
        return None
    return cursor.lastrowid


def record_events(db: Db, events: list[tuple[NewEvent, str]]) -> None:
    """Insert many events (each with its recorded_at, as ISO text) in as few statements as the parameter limit allows.

    Same rows as `record_event` one by one; an event whose natural key was already recorded is ignored.
    """
    for start in range(0, len(events), CHUNK):
        chunk = events[start : start + CHUNK]
        params: list[Any] = []
        for event, recorded_at in chunk:
            params.extend(_values(event, recorded_at))
        db.conn.execute(_INSERT_ONE if len(chunk) == 1 else _INSERT.format(rows=", ".join([_ROW] * len(chunk))), params)


def _values(event: NewEvent, recorded_at: str) -> tuple[Any, ...]:
    r = event.record
    return (
        event.recipient_id,
        event.message_id,
        str(event.kind),
        iso(event.at),
        recorded_at,
        str(event.source),
        None if event.via is None else str(event.via),
        r.status,
        r.action,
        r.reason,
        None if r.hard is None else int(r.hard),
        r.diagnostic,
        r.remote_mta,
        r.reply_code,
        r.reporting_mta,
        r.reporting_ua,
        json.dumps(event.detail, ensure_ascii=False, sort_keys=True) if event.detail else None,
        event.natural_key,
    )
