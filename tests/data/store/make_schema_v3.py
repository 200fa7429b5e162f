"""Writes schema_v3.sql: a database made by maild before migration 4 (events' source = how a report arrived).

Run with the maild of commit 0951045 (schema version 3) first on the path, from a checkout of it:

    git worktree add --detach /tmp/maild-v3 0951045
    cd /tmp/maild-v3 && PYTHONPATH=. python /path/to/tests/data/store/make_schema_v3.py OUT.sql

It records events through that version's own code: spool.enqueue (queued), record_event as delivery
wrote it (smtp), ingest_report for a DSN, a failure DSN, an MDN, a heuristic bounce, an auto-reply and
an ARF report arriving by imap, maildir, lmtp and pipe, and queue.delete (admin) of a second message; then dumps
the file.
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from maild import queue, spool
from maild.core.events import EventKind, EventSource, RecipientKind
from maild.model import StatusRecord
from maild.receipts.ingest import ingest_report
from maild.reports.model import RecipientResult, Report, ReportKind
from maild.store import open_for_command, transaction
from maild.store.db import schema_version
from maild.store.events import NewEvent, record_event
from maild.tokens import KeySet

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
KEYS = KeySet({"a": bytes(range(32))}, "a")
ADDRESSES = ("dsn@example.net", "bounce@example.net", "mdn@example.net", "auto@example.net", "arf@example.net",
             "gone@example.net", "failed@example.net")


def result(address: str, **kw: object) -> RecipientResult:
    fields: dict[str, object] = dict(address=address, original_recipient=None, action=None, status=None, reason=None,
                                     hard=None, diagnostic=None, remote_mta=None, disposition=None)
    fields.update(kw)
    return RecipientResult(**fields)  # type: ignore[arg-type]


def report(kind: ReportKind, rcpt: RecipientResult, token: str, n: int, **kw: object) -> Report:
    fields: dict[str, object] = dict(kind=kind, recipients=(rcpt,), original_message_id=None, token=token,
                                     token_candidates=(), envelope_id=None, reporting_mta=None, reporting_ua=None,
                                     arrival_date=None, date=None, subject="report", message_id=f"<r{n}@x>",
                                     fingerprint=f"fp{n}")
    fields.update(kw)
    return Report(**fields)  # type: ignore[arg-type]


def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "maild.db"
        db = open_for_command(path)
        assert schema_version(db) == 3, "run this with the maild of schema version 3"
        sub = spool.Submission(
            queue_id="Q0000000001", sender="agent@helpdesk.example.com",
            recipients=tuple(spool.SpoolRecipient(a, RecipientKind.TO) for a in ADDRESSES),
            headers=b"Message-ID: <m1@helpdesk.example.com>\r\nSubject: [#1234] hello\r\n\r\n", body=b"hi\r\n",
            received_at=T0, ticket="1234", department="Billing", message_id="<m1@helpdesk.example.com>",
            subject="[#1234] hello")
        spooled = transaction(db, lambda x: spool.enqueue(x, sub, KEYS, receipts_default=True))
        tok = {a: t for a, t in db.execute("SELECT address, token FROM recipients")}
        rid = {a: i for a, i in db.execute("SELECT address, id FROM recipients")}
        at = T0 + timedelta(minutes=1)
        for a in ADDRESSES[:-1]:
            ev = NewEvent(rid[a], spooled.message, EventKind.ACCEPTED, at, EventSource.SMTP,
                          StatusRecord(action="accepted", diagnostic="250 2.0.0 Ok", remote_mta="mx.example.net",
                                       reply_code=250), natural_key=f"smtp:{rid[a]}")
            transaction(db, lambda x, e=ev: record_event(x, e, recorded_at=at))
        refused = NewEvent(rid["failed@example.net"], spooled.message, EventKind.FAILED, at, EventSource.SMTP,
                           StatusRecord(action="failed", status="5.1.1", reason="userunknown", hard=True,
                                        diagnostic="550 5.1.1 no such user", reply_code=550),
                           natural_key="smtp:failed")
        transaction(db, lambda x: record_event(x, refused, recorded_at=at))
        reports = [
            ("maildir", report(ReportKind.DSN, result("dsn@example.net", action="delivered", status="2.0.0"),
                               tok["dsn@example.net"], 1, reporting_mta="mx.example.net")),
            ("imap", report(ReportKind.DSN, result("bounce@example.net", action="failed", status="5.2.2",
                                                   reason="mailboxfull", hard=False,
                                                   diagnostic="smtp; 552 5.2.2 mailbox full",
                                                   remote_mta="mail.example.net"),
                            tok["bounce@example.net"], 2, reporting_mta="relay.example.net")),
            ("imap", report(ReportKind.MDN, result("mdn@example.net", disposition="displayed"),
                            tok["mdn@example.net"], 3, reporting_ua="Mozilla Thunderbird 115")),
            ("lmtp", report(ReportKind.BOUNCE, result("gone@example.net", action="failed", status="5.1.1",
                                                      reason="userunknown", hard=True),
                            tok["gone@example.net"], 4)),
            ("pipe", report(ReportKind.AUTOREPLY, result("auto@example.net", reason="vacation"),
                            tok["auto@example.net"], 5)),
            ("pipe", report(ReportKind.ARF, result("arf@example.net", reason="feedback"), tok["arf@example.net"], 6,
                            reporting_mta="fbl.example.net")),
        ]
        for n, (source, rep) in enumerate(reports, start=2):
            now = T0 + timedelta(minutes=n)
            outcome = transaction(db, lambda x, r=rep, s=source, t=now: ingest_report(x, b"raw", r, KEYS, s, t))
            assert outcome.applied == 1, outcome
        other = spool.Submission(
            queue_id="Q0000000002", sender="agent@helpdesk.example.com",
            recipients=(spool.SpoolRecipient("deleted@example.net", RecipientKind.TO),),
            headers=b"Message-ID: <m2@helpdesk.example.com>\r\nSubject: [#1235] hi\r\n\r\n", body=b"hi\r\n",
            received_at=T0, ticket="1235", department="Billing", message_id="<m2@helpdesk.example.com>",
            subject="[#1235] hi")
        transaction(db, lambda x: spool.enqueue(x, other, KEYS, receipts_default=True))
        transaction(db, lambda x: queue.delete(x, "Q0000000002", T0 + timedelta(minutes=30)))
        db.conn.close()
        conn = sqlite3.connect(path)
        lines = list(conn.iterdump())
        conn.close()
    header = ["-- A maild database of schema version 3, written by tests/data/store/make_schema_v3.py (commit 0951045)."]
    out.write_text("\n".join([*header, *lines, "PRAGMA user_version = 3;", ""]))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
