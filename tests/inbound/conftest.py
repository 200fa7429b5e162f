"""Fixtures for the inbound tests: the ingest tests' database, store and sent messages; the private Dovecot."""

from __future__ import annotations

import dataclasses

import sqlite_utils

from maild import spool
from maild.core.events import RecipientKind
from maild.store import transaction
from tests.receipts.conftest import KEYS, T0, _logs_to_current_stderr, db, db_path, store  # noqa: F401 - fixtures
from tests.servers.fixtures import dovecot, dovecot_user  # noqa: F401 - fixtures


@dataclasses.dataclass(frozen=True)
class Sent:
    message: int
    message_id: str
    rids: dict[str, int]


def send(
    database: sqlite_utils.Database, *recipients: tuple[str, str], message_id: str = "<m1@helpdesk.example.com>",
    department: str | None = "Billing", ticket: str = "1234",
) -> Sent:
    """Spool a reply to (address, kind) recipients the way intake does; kinds are to, cc, bcc."""
    sub = spool.Submission(
        queue_id=spool.new_queue_id(),
        sender="agent@helpdesk.example.com",
        recipients=tuple(spool.SpoolRecipient(a, RecipientKind(k)) for a, k in recipients),
        headers=f"Message-ID: {message_id}\r\nSubject: [#{ticket}] hello\r\n\r\n".encode(),
        body=b"hi\r\n",
        received_at=T0,
        ticket=ticket,
        department=department,
        message_id=message_id,
        subject=f"[#{ticket}] hello",
    )
    spooled = transaction(database, lambda d: spool.enqueue(d, sub, KEYS))
    rows = {r[0]: int(r[1]) for r in database.execute("SELECT address, id FROM recipients WHERE message = ?", (spooled.message,))}
    return Sent(spooled.message, message_id, rows)


def replied(database: sqlite_utils.Database) -> list[tuple[str, str]]:
    """(recipient address, event source) of every replied event, in recording order."""
    return [(r[0], r[1]) for r in database.execute(
        "SELECT r.address, e.source FROM events e JOIN recipients r ON r.id = e.recipient WHERE e.kind = 'replied' ORDER BY e.id")]
