"""The delivery's store jobs: pick due recipients with their messages, record outcomes, drop finished bodies."""

from __future__ import annotations

from datetime import datetime

from maild import switches
from maild.clock import iso, parse_iso
from maild.core.events import EventSource
from maild.core.states import UNFINISHED_DELIVERY, sql_list
from maild.delivery.copies import DueRecipient, SpoolMessage
from maild.delivery.outcome import Outcome
from maild.store import named_rows
from maild.store.events import CHUNK, NewEvent, record_events
from maild.core.sqldb import Db

_UNFINISHED = sql_list(UNFINISHED_DELIVERY)



def pick_due(
    db: Db,
    now: datetime,
    limit: int,
    skip: frozenset[int] | set[int] = frozenset(),
) -> tuple[list[DueRecipient], dict[int, SpoolMessage]]:
    """Recipients not final, due by `now`, of messages not held, oldest first; `skip` (in flight) left out.

    A copy asks for a read receipt when its message did at intake and its
    department still does now: switching receipts off also covers copies
    still waiting for a retry.
    """
    rows = named_rows(
        db,
        f"""SELECT r.id, r.message, r.address, r.token, r.attempts, {switches.GENERATION} AS generation
             FROM recipients r JOIN messages m ON m.id = r.message
            WHERE r.delivery_state IN {_UNFINISHED} AND r.next_attempt_at <= ?
              AND m.held = 0 AND m.body IS NOT NULL
            ORDER BY r.next_attempt_at, r.id
            LIMIT ?""",
        (iso(now), limit + len(skip)),
    )
    due = [
        DueRecipient(id=r["id"], message=r["message"], address=r["address"], token=r["token"], attempts=r["attempts"])
        for r in rows
        if r["id"] not in skip
    ][:limit]
    wanted = sorted({r.message for r in due})
    messages: dict[int, SpoolMessage] = {}
    if not due:
        return due, messages
    # The settings generation came with the recipients, in this read's snapshot: held settings when it is the
    # same, a fresh read when any writer changed a switch since (maild.switches).
    settings = switches.current(db, rows[0]["generation"])
    switched_on = settings.receipts_enabled
    pixel_on = settings.pixel_enabled
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        marks = ",".join("?" * len(chunk))
        for row in named_rows(
            db,
            f"""SELECT id, queue_id, sender, tracked, receipts_requested, received_at, headers, body, department
                  FROM messages WHERE id IN ({marks}) AND body IS NOT NULL""",
            chunk,
        ):
            receipts = bool(row["receipts_requested"]) and switched_on(row["department"])
            # The open pixel only with read information shown: with receipts off an open would be hidden anyway.
            pixel = bool(row["tracked"]) and switched_on(row["department"]) and pixel_on(row["department"])
            messages[row["id"]] = SpoolMessage(
                id=row["id"], queue_id=row["queue_id"], sender=row["sender"], tracked=bool(row["tracked"]),
                receipts_requested=receipts, received_at=parse_iso(row["received_at"]), headers=bytes(row["headers"]),
                body=bytes(row["body"]), pixel=pixel,
            )
    return due, messages


def record_outcomes(db: Db, outcomes: list[Outcome], now: datetime) -> int:
    """Store each outcome (state + event); a message whose recipients are all final loses its body. Returns finished.

    A few statements for the lot (one UPDATE joined to a VALUES list, one
    multi-row INSERT of events, one UPDATE of the finished messages), not a
    few per outcome: under load the writer thread pays for every statement.
    """
    recorded_at = iso(now)
    ids = [o.recipient for o in outcomes]
    if len(set(ids)) == len(ids):
        for start in range(0, len(outcomes), CHUNK):
            chunk = outcomes[start : start + CHUNK]
            params: list[object] = []
            for o in chunk:
                params += (
                    o.recipient,
                    str(o.state),
                    o.attempts,
                    iso(o.next_attempt_at) if o.next_attempt_at else None,
                    o.record.diagnostic,
                    iso(o.at),
                )
            db.conn.execute(
                f"""UPDATE recipients SET delivery_state = v.column2, attempts = v.column3, next_attempt_at = v.column4,
                                          last_reply = v.column5, updated_at = v.column6
                      FROM (VALUES {", ".join(["(?, ?, ?, ?, ?, ?)"] * len(chunk))}) AS v
                     WHERE recipients.id = v.column1 AND recipients.delivery_state IN {_UNFINISHED}""",
                params,
            )
    else:  # the same recipient twice: one by one, in order, so the second sees the first
        for o in outcomes:
            db.conn.execute(
                f"""UPDATE recipients SET delivery_state = ?, attempts = ?, next_attempt_at = ?, last_reply = ?,
                                         updated_at = ?
                    WHERE id = ? AND delivery_state IN {_UNFINISHED}""",
                (
                    str(o.state),
                    o.attempts,
                    iso(o.next_attempt_at) if o.next_attempt_at else None,
                    o.record.diagnostic,
                    iso(o.at),
                    o.recipient,
                ),
            )
    record_events(
        db,
        [
            (NewEvent(o.recipient, o.message, o.event, o.at, EventSource.SMTP, o.record, natural_key=o.natural_key), recorded_at)
            for o in outcomes
        ],
    )
    return finish_messages(db, {o.message for o in outcomes}, now)


def record_replayed(db: Db, outcomes: list[Outcome], now: datetime) -> int:
    """Record outcomes an earlier run kept in the outcome journal; returns how many still had their recipient.

    Recording one twice changes nothing (events have natural keys; a finished
    recipient is not updated). A recipient gone meanwhile (`maild forget`) is
    skipped: its outcome has no one left to belong to.
    """
    wanted = sorted({o.recipient for o in outcomes})
    present: set[int] = set()
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        present.update(
            r[0] for r in db.execute(f"SELECT id FROM recipients WHERE id IN ({', '.join('?' * len(chunk))})", chunk)
        )
    kept = [o for o in outcomes if o.recipient in present]
    if kept:
        record_outcomes(db, kept, now)
    return len(kept)




def finish_messages(db: Db, message_ids: set[int], now: datetime) -> int:
    """Drop the body of each of these messages whose recipients are all final."""
    finished = 0
    wanted = sorted(message_ids)
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        cursor = db.conn.execute(
            f"""UPDATE messages SET body = NULL, finished_at = ?
                 WHERE id IN ({",".join("?" * len(chunk))}) AND body IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM recipients
                                    WHERE recipients.message = messages.id
                                      AND recipients.delivery_state IN {_UNFINISHED})""",
            [iso(now), *chunk],
        )
        finished += cursor.rowcount
    return finished
