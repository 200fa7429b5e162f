"""Shared vocabulary: the kinds, states and per-recipient status record every part of maild speaks."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RecipientKind(StrEnum):
    TO = "to"
    CC = "cc"
    BCC = "bcc"


class EventKind(StrEnum):
    """What happened to one recipient's copy; the store keeps these as an append-only log."""

    QUEUED = "queued"
    ACCEPTED = "accepted"  # the upstream answered 2xx
    DEFERRED = "deferred"  # the upstream answered 4xx or the connection failed; retried
    DELAYED = "delayed"  # DSN action=delayed
    DELIVERED = "delivered"  # DSN action=delivered
    RELAYED = "relayed"  # DSN action=relayed
    EXPANDED = "expanded"  # DSN action=expanded
    FAILED = "failed"  # upstream 5xx, expiry, or removed by an admin
    BOUNCED = "bounced"  # DSN failed / non-standard bounce after acceptance
    DISPLAYED = "displayed"  # MDN: read
    DELETED = "deleted"  # MDN: deleted unread
    DISPATCHED = "dispatched"
    PROCESSED = "processed"
    DENIED = "denied"  # MDN: the recipient declined to send a receipt
    MDN_FAILED = "mdn_failed"  # MDN disposition failed
    AUTOREPLIED = "autoreplied"
    COMPLAINED = "complained"  # ARF abuse report
    OPENED = "opened"


class EventSource(StrEnum):
    SMTP = "smtp"  # our own delivery attempt
    ADMIN = "admin"
    DSN = "dsn"
    MDN = "mdn"
    BOUNCE = "bounce"
    AUTOREPLY = "autoreply"
    ARF = "arf"
    PIXEL = "pixel"


class DeliveryState(StrEnum):
    """Where our own delivery of one copy stands; drives the scheduler."""

    QUEUED = "queued"
    DEFERRED = "deferred"
    HELD = "held"
    ACCEPTED = "accepted"
    FAILED = "failed"

    @property
    def final(self) -> bool:
        return self in (DeliveryState.ACCEPTED, DeliveryState.FAILED)


@dataclass(frozen=True, slots=True)
class StatusRecord:
    """One per-recipient status, whatever told us: an SMTP reply, a DSN, an MDN or a heuristic bounce.

    Mirrors Postfix's DSN record: status code, action, reason, diagnostic and remote MTA.
    """

    status: str | None = None  # enhanced status code, "5.1.1"
    action: str | None = None  # DSN action or MDN disposition
    reason: str | None = None  # taxonomy word: userunknown, mailboxfull, expired...
    hard: bool | None = None  # a permanent failure of the address itself
    diagnostic: str | None = None  # the SMTP reply or diagnostic text
    remote_mta: str | None = None
    reply_code: int | None = None  # the basic SMTP reply code, 550
