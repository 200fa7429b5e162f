"""The persisted write-back outbox: collect rows from new events, hand out due ones, record outcomes; sync store jobs.

Each event names a state of its recipient (`STATE_OF_EVENT`: an accepted copy
or a success DSN is "delivered", an MDN "read"...). Rows are keyed
`target/recipient/state` (FreeScout's viewed indicator: `target/message/read`),
INSERT OR IGNORE: whatever happens to events, retries or restarts, one
recipient reaching one state is written at most once. A read state of a
department whose receipts are off (the `message_visibility` view) never makes
a row; the dispatcher checks again before sending, as the switch may change.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from maild.clock import iso
from maild.config import WritebackTarget
from maild.core.sqldb import Db

READ_STATES = frozenset({"read", "declined", "deleted_unread"})
# What each event says about its recipient, as write-back names it (the recipient states of DESIGN.md).
STATE_OF_EVENT = {
    "accepted": "delivered", "delivered": "delivered", "relayed": "delivered", "expanded": "delivered",
    "displayed": "read", "denied": "declined", "deleted": "deleted_unread", "bounced": "bounced", "failed": "failed",
}
# The preset whose mail each kind can write back into (it carries the ids the helpdesk's API needs).
HELPDESK_OF_KIND = {"rt": "rt", "zammad": "zammad", "freescout": "freescout", "glpi": "glpi"}


@dataclass(frozen=True, slots=True)
class Item:
    """One due row with what a request needs."""

    id: int
    target: str
    message: int
    recipient: int
    state: str
    attempts: int
    ticket: str
    ids: Mapping[str, str]
    address: str
    department: str | None
    at: str | None  # when the state was reached
    summary: tuple[tuple[str, str, str | None], ...]  # (address, state, at) of every recipient of the ticket


def mode_of(target: WritebackTarget) -> str:
    default = {"rt": "field", "zammad": "note", "freescout": "indicator", "glpi": "followup"}[target.kind]
    return target.mode or default


def _latest_event(db: Db) -> int:
    return int(db.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0])


def cursor(db: Db, target: WritebackTarget, now: datetime) -> int:
    """The last event looked at; a target seen for the first time starts after the latest event."""
    row = db.execute("SELECT last_event FROM writeback_cursors WHERE target = ?", (target.label,)).fetchone()
    if row is not None:
        return int(row[0])
    start = _latest_event(db)
    db.execute(
        "INSERT INTO writeback_cursors (target, last_event, updated_at) VALUES (?, ?, ?)", (target.label, start, iso(now))
    )
    return start


def collect(db: Db, target: WritebackTarget, now: datetime, *, limit: int = 500) -> int:
    """Turn the events after the cursor into outbox rows; returns how many rows were new. Run in a write transaction."""
    after = cursor(db, target, now)
    rows = db.execute(
        """SELECT e.id, e.recipient, e.message FROM events e JOIN messages m ON m.id = e.message
           WHERE e.id > ? ORDER BY e.id LIMIT ?""",
        (after, limit),
    ).fetchall()
    if not rows:
        return 0
    last = int(rows[-1][0])
    helpdesk = HELPDESK_OF_KIND[target.kind]
    ids = [int(r[0]) for r in rows]
    marks = ",".join("?" * len(ids))
    found = db.execute(
        f"""SELECT e.kind, e.recipient, e.message, e.id, v.department, v.receipts_enabled, m.helpdesk, m.tracked, m.ticket
            FROM events e JOIN messages m ON m.id = e.message JOIN message_visibility v ON v.message = e.message
            WHERE e.id IN ({marks}) ORDER BY e.id""",
        ids,
    ).fetchall()
    wanted_departments = {d.casefold() for d in target.departments}
    indicator = target.kind == "freescout" and mode_of(target) == "indicator"
    created = 0
    for kind, rid, message, eid, department, receipts_enabled, msg_helpdesk, tracked, ticket in found:
        state = STATE_OF_EVENT.get(str(kind))
        if state is None or msg_helpdesk != helpdesk or not tracked or ticket is None or state not in target.states:
            continue
        if state in READ_STATES and not receipts_enabled:
            continue  # a department with receipts off: read information is never written
        if wanted_departments and (department or "").casefold() not in wanted_departments:
            continue
        if indicator and state != "read":
            continue
        key = f"{target.label}/message/{message}/read" if indicator else f"{target.label}/{rid}/{state}"
        cur = db.execute(
            """INSERT OR IGNORE INTO writeback_outbox
               (target, natural_key, message, recipient, event, state, status, attempts, next_attempt_at, created_at)
               VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)""",
            (target.label, key, message, rid, eid, state, iso(now), iso(now)),
        )
        created += cur.rowcount
    db.execute("UPDATE writeback_cursors SET last_event = ?, updated_at = ? WHERE target = ?", (last, iso(now), target.label))
    return created


def due(db: Db, target: WritebackTarget, now: datetime, *, limit: int = 50) -> list[Item]:
    rows = db.execute(
        """SELECT o.id, o.message, o.recipient, o.state, o.attempts, m.ticket, m.helpdesk_ids, r.address, o.event
           FROM writeback_outbox o JOIN messages m ON m.id = o.message JOIN recipients r ON r.id = o.recipient
           WHERE o.target = ? AND o.status = 'pending' AND o.next_attempt_at <= ? ORDER BY o.id LIMIT ?""",
        (target.label, iso(now), limit),
    ).fetchall()
    items = []
    for oid, message, rid, state, attempts, ticket, ids_json, address, eid in rows:
        visible = db.execute(
            "SELECT department, receipts_enabled FROM message_visibility WHERE message = ?", (message,)
        ).fetchone()
        department, receipts_enabled = visible if visible else (None, 0)
        if state in READ_STATES and not receipts_enabled:
            # the department's receipts were switched off since: never written
            db.execute("UPDATE writeback_outbox SET status = 'suppressed', done_at = ? WHERE id = ?", (iso(now), oid))
            continue
        at_row = db.execute("SELECT at FROM events WHERE id = ?", (eid,)).fetchone()
        items.append(
            Item(oid, target.label, message, rid, state, attempts, ticket, _ids(ids_json), address, department,
                 at_row[0] if at_row else None, ticket_summary(db, ticket, HELPDESK_OF_KIND[target.kind]))
        )
    return items


def _ids(text: str | None) -> Mapping[str, str]:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def ticket_summary(db: Db, ticket: str, helpdesk: str) -> tuple[tuple[str, str, str | None], ...]:
    """Each recipient of the ticket's latest reply to them: (address, state, when), read information as visible."""
    rows = db.execute(
        """SELECT rs.address, rs.state, coalesce(rs.read_at, rs.failure_at, rs.delivered_at)
           FROM recipient_status rs JOIN messages m ON m.id = rs.message
           WHERE rs.ticket = ? AND m.helpdesk = ? ORDER BY rs.message, rs.recipient_id""",
        (ticket, helpdesk),
    ).fetchall()
    latest: dict[str, tuple[str, str, str | None]] = {}
    for address, state, at in rows:
        latest[str(address).lower()] = (str(address), str(state), at)
    return tuple(latest.values())


def mark_done(db: Db, oid: int, now: datetime) -> None:
    db.execute(
        "UPDATE writeback_outbox SET status = 'done', done_at = ?, last_error = NULL WHERE id = ? AND status = 'pending'",
        (iso(now), oid),
    )


def mark_retry(db: Db, oid: int, attempts: int, retry_at: datetime, error: str) -> None:
    db.execute(
        "UPDATE writeback_outbox SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ?",
        (attempts, iso(retry_at), error[:500], oid),
    )


def mark_refused(db: Db, oid: int, attempts: int, error: str, now: datetime) -> None:
    db.execute(
        "UPDATE writeback_outbox SET status = 'refused', attempts = ?, last_error = ?, done_at = ? WHERE id = ?",
        (attempts, error[:500], iso(now), oid),
    )


@dataclass(frozen=True, slots=True)
class Row:
    id: int
    target: str
    ticket: str | None
    recipient: int
    address: str
    state: str
    status: str
    attempts: int
    next_attempt_at: str | None
    last_error: str | None
    created_at: str


def list_rows(db: Db, *, status: str | None = None, limit: int = 1000) -> list[Row]:
    where, params = ("WHERE o.status = ?", [status]) if status else ("", [])
    rows = db.execute(
        f"""SELECT o.id, o.target, m.ticket, o.recipient, r.address, o.state, o.status, o.attempts, o.next_attempt_at,
                   o.last_error, o.created_at
            FROM writeback_outbox o JOIN messages m ON m.id = o.message JOIN recipients r ON r.id = o.recipient
            {where} ORDER BY o.id LIMIT ?""",
        [*params, limit],
    ).fetchall()
    return [Row(*r) for r in rows]


def retry(
    db: Db, now: datetime, oid: int | None = None, *, statuses: tuple[str, ...] = ("pending", "refused")
) -> int:
    """Make rows in `statuses` due now (one, or all of them); returns how many."""
    marks = ",".join("?" * len(statuses))
    where, params = (f"status IN ({marks})", list(statuses)) if oid is None else (f"id = ? AND status IN ({marks})", [oid, *statuses])
    cur = db.execute(f"UPDATE writeback_outbox SET status = 'pending', next_attempt_at = ? WHERE {where}", [iso(now), *params])
    return int(cur.rowcount)


def counts(db: Db) -> list[tuple[str, str, int]]:
    """(target, status, rows) for /metrics."""
    return [(str(t), str(s), int(n)) for t, s, n in db.execute(
        "SELECT target, status, count(*) FROM writeback_outbox GROUP BY target, status ORDER BY target, status"
    )]
