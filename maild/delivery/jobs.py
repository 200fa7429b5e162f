"""The delivery's store jobs: pick due recipients with their messages, record outcomes, drop finished bodies."""

from __future__ import annotations

from datetime import datetime

import sqlite_utils

from maild.clock import iso, parse_iso
from maild.delivery.copies import DueRecipient, SpoolMessage
from maild.delivery.outcome import Outcome
from maild.model import EventSource
from maild.store.events import NewEvent, record_event

_PENDING = ("queued", "deferred")


def pick_due(
    db: sqlite_utils.Database, now: datetime, limit: int, skip: frozenset[int] | set[int] = frozenset()
) -> tuple[list[DueRecipient], dict[int, SpoolMessage]]:
    """Recipients not final, due by `now`, of messages not held, oldest first; `skip` (in flight) left out."""
    rows = db.execute(
        """SELECT r.id, r.message, r.address, r.token, r.attempts
             FROM recipients r JOIN messages m ON m.id = r.message
            WHERE r.delivery_state IN ('queued', 'deferred') AND r.next_attempt_at <= ?
              AND m.held = 0 AND m.body IS NOT NULL
            ORDER BY r.next_attempt_at, r.id
            LIMIT ?""",
        (iso(now), limit + len(skip)),
    ).fetchall()
    due = [DueRecipient(*row) for row in rows if row[0] not in skip][:limit]
    wanted = sorted({r.message for r in due})
    messages: dict[int, SpoolMessage] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for row in db.execute(
            f"""SELECT id, queue_id, sender, tracked, receipts_requested, received_at, headers, body
                  FROM messages WHERE id IN ({marks}) AND body IS NOT NULL""",
            chunk,
        ):
            messages[row[0]] = SpoolMessage(
                row[0], row[1], row[2], bool(row[3]), bool(row[4]), parse_iso(row[5]), bytes(row[6]), bytes(row[7])
            )
    return due, messages


def record_outcomes(db: sqlite_utils.Database, outcomes: list[Outcome], now: datetime) -> int:
    """Store each outcome (state + event); a message whose recipients are all final loses its body. Returns finished."""
    for o in outcomes:
        at = iso(o.at)
        db.execute(
            """UPDATE recipients SET delivery_state = ?, attempts = ?, next_attempt_at = ?, last_reply = ?,
                                     updated_at = ?
                WHERE id = ? AND delivery_state IN ('queued', 'deferred')""",
            (
                str(o.state),
                o.attempts,
                iso(o.next_attempt_at) if o.next_attempt_at else None,
                o.record.diagnostic,
                at,
                o.recipient,
            ),
        )
        record_event(
            db,
            NewEvent(o.recipient, o.message, o.event, o.at, EventSource.SMTP, o.record, natural_key=o.natural_key),
            recorded_at=now,
        )
    return finish_messages(db, {o.message for o in outcomes}, now)


def finish_messages(db: sqlite_utils.Database, message_ids: set[int], now: datetime) -> int:
    """Drop the body of each of these messages whose recipients are all final."""
    finished = 0
    for message in message_ids:
        left = db.execute(
            "SELECT 1 FROM recipients WHERE message = ? AND delivery_state IN ('queued', 'deferred') LIMIT 1",
            (message,),
        ).fetchone()
        if left is None:
            cursor = db.execute(
                "UPDATE messages SET body = NULL, finished_at = ? WHERE id = ? AND body IS NOT NULL", (iso(now), message)
            )
            finished += cursor.rowcount
    return finished
