"""The spool: a received message, its recipients and their `queued` events, stored in one transaction.

Intake answers 250 only after `enqueue` has been committed; delivery reads the
spool back; when every recipient of a message is final its body is dropped.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from maild import switches, tokens
from maild.clock import iso
from maild.core.events import EventKind, EventSource, RecipientKind
from maild.core.states import DeliveryState
from maild.store.events import CHUNK, NewEvent, record_events
from maild.core.sqldb import Db


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
    helpdesk: str | None = None  # the preset that matched
    helpdesk_ids: Mapping[str, str] = field(default_factory=dict)  # the helpdesk's internal ids, for write-back


@dataclass(frozen=True, slots=True)
class Spooled:
    message: int  # messages.id
    queue_id: str
    recipients: tuple[int, ...]
    receipts_requested: bool


def new_queue_id() -> str:
    """Short, unique enough to grep logs, and never reused (the column is UNIQUE)."""
    return secrets.token_hex(6).upper()


def enqueue(db: Db, sub: Submission, keys: tokens.KeySet | None) -> Spooled:
    """Store one message; run inside a write transaction. Tracked messages get one token per recipient.

    A tracked message asks for read receipts when its department does (the
    stored switch, else the stored tracking.receipts_default: maild.store.settings).
    """
    return enqueue_many(db, [(sub, keys)])[0]


EnqueueItem = tuple[Submission, "tokens.KeySet | None"]  # submission, token keys


def enqueue_many(db: Db, items: list[EnqueueItem]) -> list[Spooled]:
    """Store many messages in a few multi-row statements; run inside a write transaction.

    The rows are those `enqueue` stores one message at a time. Ids are chosen
    here as SQLite would (one above the largest) so each token can be minted
    before its recipient row is written: one INSERT per table, not three
    statements per recipient. The caller holds the write lock, so nobody else
    can take these ids meanwhile.
    """
    for sub, keys in items:
        if sub.tracked and keys is None:
            raise ValueError("a tracked message needs the token keys")
    conn = db.conn
    # The settings generation comes with the next id, in the write transaction: a switch committed before it
    # (by any process) applies to this batch, and unchanged settings cost no statement (maild.switches).
    # The recipients' next id too: one statement per batch for all three (each max(id) is one look at a b-tree's end).
    row = conn.execute(
        f"SELECT coalesce(max(id), 0) + 1, {switches.GENERATION}, (SELECT coalesce(max(id), 0) + 1 FROM recipients)"
        " FROM messages"
    ).fetchone()
    first_message = int(row[0])
    settings = switches.current(db, row[1])
    message_rows: list[tuple[object, ...]] = []
    for sub, _ in items:
        receipts = sub.tracked and settings.receipts_enabled(sub.department)
        message_rows.append(
            (
                first_message + len(message_rows),
                sub.queue_id,
                sub.message_id,
                sub.ticket,
                sub.department,
                sub.sender,
                sub.subject,
                len(sub.headers) + len(sub.body),
                sub.peer,
                iso(sub.received_at),
                int(sub.tracked),
                int(receipts),
                sub.headers,
                sub.body,
                sub.helpdesk,
                json.dumps(dict(sub.helpdesk_ids), sort_keys=True) if sub.helpdesk_ids else None,
            )
        )
    _insert_rows(conn, _MESSAGES, message_rows)
    first_recipient = rid = int(row[2])  # read before the messages' INSERT: it writes no recipient
    recipient_rows: list[tuple[object, ...]] = []
    events: list[tuple[NewEvent, str]] = []
    spooled: list[Spooled] = []
    queued = str(DeliveryState.QUEUED)
    for n, (sub, keys) in enumerate(items):
        message = first_message + n
        at = str(message_rows[n][9])  # received_at as stored
        ids = []
        for rcpt in sub.recipients:
            token = tokens.mint(keys, rid) if sub.tracked and keys is not None else None
            recipient_rows.append((rid, message, rcpt.address, str(rcpt.kind), token, queued, at, at))
            events.append((NewEvent(rid, message, EventKind.QUEUED, sub.received_at, EventSource.SMTP), at))
            ids.append(rid)
            rid += 1
        spooled.append(Spooled(message, sub.queue_id, tuple(ids), bool(message_rows[n][11])))
    if recipient_rows:
        _insert_rows(conn, _RECIPIENTS, recipient_rows)
        record_events(db, events)
    assert rid - first_recipient == len(recipient_rows)
    return spooled


_MESSAGES = """INSERT INTO messages (id, queue_id, message_id, ticket, department, sender, subject, size, peer,
                                     received_at, tracked, receipts_requested, held, headers, body,
                                     helpdesk, helpdesk_ids)
               VALUES {rows}"""
_MESSAGE_ROW = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)"
_RECIPIENTS = """INSERT INTO recipients (id, message, address, kind, token, delivery_state, attempts,
                                         next_attempt_at, updated_at)
                 VALUES {rows}"""
_RECIPIENT_ROW = "(?, ?, ?, ?, ?, ?, 0, ?, ?)"
_ROWS = {_MESSAGES: _MESSAGE_ROW, _RECIPIENTS: _RECIPIENT_ROW}


def _insert_rows(conn: sqlite3.Connection, statement: str, rows: list[tuple[object, ...]]) -> None:
    """Rows in order, in one statement per chunk; SQLite numbers them one after another."""
    row = _ROWS[statement]
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        conn.execute(statement.format(rows=", ".join([row] * len(chunk))), [v for r in chunk for v in r])
