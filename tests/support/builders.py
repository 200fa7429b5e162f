"""Test data for the status tests: spool messages with maild.spool.enqueue and add events with record_event."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlite_utils

from maild import departments
from maild.core.events import EventKind, EventSource, RecipientKind, Via
from maild.model import StatusRecord
from maild.spool import SpoolRecipient, Submission, enqueue, new_queue_id
from maild.store import transaction
from maild.store.db import open_db
from maild.store.events import NewEvent, record_event
from maild.tokens import KeySet

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
KEYS = KeySet({"a": b"k" * 32}, "a")
_serial = itertools.count(1)

SOURCES = {
    EventKind.ACCEPTED: EventSource.SMTP,
    EventKind.DEFERRED: EventSource.SMTP,
    EventKind.FAILED: EventSource.SMTP,
    EventKind.DISPLAYED: EventSource.MDN,
    EventKind.DELETED: EventSource.MDN,
    EventKind.DENIED: EventSource.MDN,
    EventKind.DISPATCHED: EventSource.MDN,
    EventKind.PROCESSED: EventSource.MDN,
    EventKind.REPLIED: EventSource.REPLY,
    EventKind.OPENED: EventSource.PIXEL,
}


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@dataclass
class Reply:
    message: int
    message_id: str
    recipients: dict[str, int]  # address -> recipients.id


class Builder:
    """Writes through the same functions as the daemon, on a real SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = open_db(path)

    def close(self) -> None:
        self.db.conn.close()

    def write(self, job):  # noqa: ANN001, ANN201
        return transaction(self.db, job)

    def reply(
        self,
        ticket: str | None,
        recipients: list[tuple[str, str]],
        *,
        department: str | None = "Billing",
        minutes: float = 0,
        subject: str = "Re: your invoice",
        message_id: str | None = None,
    ) -> Reply:
        n = next(_serial)
        mid = message_id or f"<reply{n}@helpdesk.example.com>"
        sub = Submission(
            queue_id=new_queue_id(),
            sender="agent@helpdesk.example.com",
            recipients=tuple(SpoolRecipient(a, RecipientKind(k)) for a, k in recipients),
            headers=b"Subject: x\r\n",
            body=b"hello\r\n",
            received_at=at(minutes),
            ticket=ticket,
            department=department,
            message_id=mid,
            subject=subject,
        )
        spooled = self.write(lambda db: enqueue(db, sub, KEYS))
        return Reply(spooled.message, mid, {a: rid for (a, _), rid in zip(recipients, spooled.recipients, strict=True)})

    def event(
        self,
        reply: Reply,
        address: str,
        kind: EventKind | str,
        minutes: float,
        record: StatusRecord = StatusRecord(),
        source: EventSource | None = None,
    ) -> int | None:
        kind = EventKind(kind)
        said = source or SOURCES.get(kind, EventSource.DSN)
        ev = NewEvent(
            reply.recipients[address],
            reply.message,
            kind,
            at(minutes),
            said,
            record,
            natural_key=f"test-{next(_serial)}",
            via=None if said in (EventSource.SMTP, EventSource.ADMIN) else Via.IMAP,  # reports arrive by IMAP here
        )
        return self.write(lambda db: record_event(db, ev, recorded_at=at(minutes)))

    def receipts(self, department: str, enabled: bool) -> None:
        self.write(lambda db: departments.set_receipts(db, department, enabled, at(0)))

    def view(self, sql: str, *params: object) -> list[dict]:
        return list(self.db.query(sql, params))


def fresh(tmp_path: Path) -> sqlite_utils.Database:
    return open_db(tmp_path / "maild.db")
