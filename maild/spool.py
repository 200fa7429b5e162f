"""The spool: a received message, its recipients and their `queued` events, stored in one transaction.

Intake answers 250 only after `enqueue` has been committed; delivery reads the
spool back; when every recipient of a message is final its body is dropped.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlite_utils

from maild import departments, tokens
from maild.clock import iso
from maild.model import DeliveryState, EventKind, EventSource, RecipientKind
from maild.store.events import NewEvent, record_event


@dataclass(frozen=True, slots=True)
class SpoolRecipient:
    address: str
    kind: RecipientKind


@dataclass(frozen=True, slots=True)
class Submission:
    """A message as intake accepted it, ready to be stored."""

    queue_id: str
    sender: str
    recipients: tuple[SpoolRecipient, ...]
    headers: bytes  # internal headers already stripped
    body: bytes
    received_at: datetime
    peer: str = ""
    ticket: str | None = None
    department: str | None = None
    message_id: str | None = None
    subject: str | None = None
    tracked: bool = True


@dataclass(frozen=True, slots=True)
class Spooled:
    message: int  # messages.id
    queue_id: str
    recipients: tuple[int, ...]
    receipts_requested: bool


def new_queue_id() -> str:
    """Short, unique enough to grep logs, and never reused (the column is UNIQUE)."""
    return secrets.token_hex(6).upper()


def enqueue(
    db: sqlite_utils.Database, sub: Submission, keys: tokens.KeySet | None, *, receipts_default: bool
) -> Spooled:
    """Store one message; run inside a write transaction. Tracked messages get one token per recipient."""
    if sub.tracked and keys is None:
        raise ValueError("a tracked message needs the token keys")
    receipts = sub.tracked and departments.receipts_enabled(db, sub.department, receipts_default)
    at = iso(sub.received_at)
    cursor = db.execute(
        """INSERT INTO messages (queue_id, message_id, ticket, department, sender, subject, size, peer,
                                 received_at, tracked, receipts_requested, held, headers, body)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)""",
        (
            sub.queue_id,
            sub.message_id,
            sub.ticket,
            sub.department,
            sub.sender,
            sub.subject,
            len(sub.headers) + len(sub.body),
            sub.peer,
            at,
            int(sub.tracked),
            int(receipts),
            sub.headers,
            sub.body,
        ),
    )
    message = int(cursor.lastrowid)
    ids = []
    for rcpt in sub.recipients:
        rid = int(
            db.execute(
                """INSERT INTO recipients (message, address, kind, delivery_state, attempts, next_attempt_at, updated_at)
                   VALUES (?, ?, ?, ?, 0, ?, ?)""",
                (message, rcpt.address, str(rcpt.kind), str(DeliveryState.QUEUED), at, at),
            ).lastrowid
        )
        if sub.tracked:
            assert keys is not None
            db.execute("UPDATE recipients SET token = ? WHERE id = ?", (tokens.mint(keys, rid), rid))
        record_event(
            db,
            NewEvent(rid, message, EventKind.QUEUED, sub.received_at, EventSource.SMTP),
            recorded_at=sub.received_at,
        )
        ids.append(rid)
    return Spooled(message, sub.queue_id, tuple(ids), receipts)
