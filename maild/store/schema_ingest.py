"""Schema of the receipts ingest (migration 2): IMAP positions, processed reports, the quarantine."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils


def migrate(db: sqlite_utils.Database) -> None:
    """IMAP folder positions, one row per report seen, the quarantine with raw bytes, token rejection counters."""
    db.table("imap_state").create(
        {
            "source": str,  # the source URL without its password
            "uidvalidity": int,
            "last_uid": int,  # highest UID processed and moved out
            "updated_at": str,
        },
        pk="source",
        not_null={"uidvalidity", "last_uid", "updated_at"},
    )
    db.table("reports").create(
        {
            "fingerprint": str,  # the parser's fingerprint (sha256 of the raw bytes when unparseable)
            "kind": str,  # maild.reports.ReportKind
            "received_at": str,  # first seen
            "last_seen_at": str,
            "seen": int,  # how many times it arrived (redelivery, replay, UIDVALIDITY reset)
            "source": str,  # imap, maildir, lmtp, pipe
            "ref": str,  # where it came from: IMAP UID, file name, LMTP queue id
            "outcome": str,  # applied, duplicate, quarantined
            "events": int,  # events recorded from it (all time)
            "quarantine": int,  # quarantine.id while it is held
        },
        pk="fingerprint",
        not_null={"kind", "received_at", "last_seen_at", "source", "outcome"},
        defaults={"seen": 1, "events": 0},
    )
    db.table("reports").create_index(["received_at"])
    db.table("quarantine").create(
        {
            "id": int,
            "fingerprint": str,
            "source": str,
            "ref": str,
            "reason": str,  # maild.receipts.ingest.QuarantineReason
            "detail": str,  # JSON: what the report said (kind, tokens, Message-IDs, addresses), never a body
            "received_at": str,
            "size": int,  # size of the original message
            "raw": bytes,  # the message, cut at quarantine_max_bytes
            "truncated": int,
            "state": str,  # held, released (applied on retry)
            "seen": int,
            "retried_at": str,
        },
        pk="id",
        not_null={"fingerprint", "source", "reason", "received_at", "state"},
        defaults={"state": "held", "seen": 1, "truncated": 0},
    )
    db.table("quarantine").create_index(["fingerprint"], unique=True)
    db.table("quarantine").create_index(["state", "id"])
    db.table("token_rejections").create(
        {"reason": str, "count": int, "last_at": str},
        pk="reason",
        not_null={"count", "last_at"},
    )
