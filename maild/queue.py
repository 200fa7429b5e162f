"""The mail queue as an operator sees it (like postqueue/mailq): list, show, retry, hold, release and delete messages.

Functions of a store handle (`maild.core.sqldb.Db`), run by the CLI inside one transaction;
actions that end a recipient record an event like everything else does.
"""

from __future__ import annotations

from datetime import datetime

from maild.clock import iso, parse_iso
from maild.core.events import EventKind, EventSource
from maild.core.frozen import frozen
from maild.core.states import UNFINISHED_DELIVERY, sql_list
from maild.errors import MaildError
from maild.core.record import StatusRecord
from maild.store import named_rows
from maild.store.events import NewEvent, record_event
from maild.core.sqldb import Db


class UnknownMessage(MaildError):
    """No message in the queue has this id."""

    def __init__(self, queue_id: str) -> None:
        super().__init__(f"no message with queue id {queue_id!r} (see `maild queue list`)")
        self.queue_id = queue_id


@frozen
class QueueRecipient:
    """One recipient of a queued message, as `maild queue list` shows it."""

    address: str
    kind: str
    state: str
    attempts: int
    next_attempt_at: str | None
    last_reply: str | None


@frozen
class QueueEntry:
    """One queued message with its recipients, as `maild queue list` shows it."""

    queue_id: str
    message_id: str | None
    ticket: str | None
    department: str | None
    sender: str
    subject: str | None
    size: int
    received_at: str
    held: bool
    tracked: bool
    finished_at: str | None
    recipients: tuple[QueueRecipient, ...]

    def age_seconds(self, now: datetime) -> int:
        return max(0, int((now - parse_iso(self.received_at)).total_seconds()))


_PENDING_SQL = sql_list(UNFINISHED_DELIVERY)


def _entries(db: Db, where: str, params: tuple[object, ...]) -> list[QueueEntry]:
    rows = named_rows(
        db,
        f"""SELECT id, queue_id, message_id, ticket, department, sender, subject, size, received_at, held, tracked,
                   finished_at FROM messages WHERE {where} ORDER BY received_at, id""",
        params,
    )
    out = []
    for row in rows:
        rcpts = tuple(
            QueueRecipient(*r)
            for r in db.execute(
                """SELECT address, kind, delivery_state, attempts, next_attempt_at, last_reply
                     FROM recipients WHERE message = ? ORDER BY id""",
                (row["id"],),
            )
        )
        out.append(
            QueueEntry(
                queue_id=row["queue_id"], message_id=row["message_id"], ticket=row["ticket"],
                department=row["department"], sender=row["sender"], subject=row["subject"], size=row["size"],
                received_at=row["received_at"], held=bool(row["held"]), tracked=bool(row["tracked"]),
                finished_at=row["finished_at"], recipients=rcpts,
            )
        )
    return out


def list_entries(db: Db, *, include_finished: bool = False) -> list[QueueEntry]:
    """Messages with at least one recipient not final (all messages with include_finished)."""
    if include_finished:
        return _entries(db, "1", ())
    return _entries(
        db, f"id IN (SELECT message FROM recipients WHERE delivery_state IN {_PENDING_SQL})", ()
    )


def show(db: Db, queue_id: str) -> tuple[QueueEntry, bytes]:
    """One message with its header block; raises UnknownMessage."""
    found = _entries(db, "queue_id = ?", (normalise(queue_id),))
    if not found:
        raise UnknownMessage(queue_id)
    headers = db.execute("SELECT headers FROM messages WHERE queue_id = ?", (normalise(queue_id),)).fetchone()[0]
    return found[0], bytes(headers)


def normalise(queue_id: str) -> str:
    return queue_id.strip().upper()


def _message_id(db: Db, queue_id: str) -> int:
    row = db.execute("SELECT id FROM messages WHERE queue_id = ?", (normalise(queue_id),)).fetchone()
    if row is None:
        raise UnknownMessage(queue_id)
    return int(row[0])


def retry(db: Db, queue_id: str | None, now: datetime) -> int:
    """Make the recipients not final of one message (None: of every message) due now; returns how many."""
    where, params = ("", ()) if queue_id is None else (" AND message = ?", (_message_id(db, queue_id),))
    cursor = db.execute(
        f"UPDATE recipients SET next_attempt_at = ?, updated_at = ? WHERE delivery_state IN {_PENDING_SQL}{where}",
        (iso(now), iso(now), *params),
    )
    return cursor.rowcount


def set_held(db: Db, queue_id: str, held: bool) -> bool:
    """Hold (no delivery attempts) or release a message; returns whether the flag changed."""
    message = _message_id(db, queue_id)
    cursor = db.execute("UPDATE messages SET held = ? WHERE id = ? AND held != ?", (int(held), message, int(held)))
    return cursor.rowcount > 0


def delete(db: Db, queue_id: str, now: datetime) -> int:
    """Fail every recipient not final ("deleted by admin", source admin) and drop the body; returns how many."""
    message = _message_id(db, queue_id)
    pending = db.execute(
        f"SELECT id, attempts FROM recipients WHERE message = ? AND delivery_state IN {_PENDING_SQL}", (message,)
    ).fetchall()
    record = StatusRecord(action="failed", reason="deleted by admin", hard=False, diagnostic="deleted by admin")
    for rid, _attempts in pending:
        db.execute(
            "UPDATE recipients SET delivery_state = 'failed', last_reply = ?, next_attempt_at = NULL, updated_at = ? WHERE id = ?",
            ("deleted by admin", iso(now), rid),
        )
        record_event(
            db,
            NewEvent(rid, message, EventKind.FAILED, now, EventSource.ADMIN, record, natural_key=f"admin-delete:{rid}"),
            recorded_at=now,
        )
    from maild.delivery.jobs import finish_messages  # delete only: `maild queue list` never loads delivery

    finish_messages(db, {message}, now)
    return len(pending)
