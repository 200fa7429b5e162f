"""Events: what happened to one recipient's copy, what the world said it with, and how that reached maild."""

from __future__ import annotations

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
    REPLIED = "replied"  # the recipient answered the reply
    OPENED = "opened"  # the optional open pixel


class EventSource(StrEnum):
    """What the world said: the kind of report (or our own act) an event comes from."""

    SMTP = "smtp"  # our own delivery attempt and its upstream's answer
    ADMIN = "admin"  # an administrator's act (queue delete)
    DSN = "dsn"
    MDN = "mdn"
    BOUNCE = "bounce"  # a non-standard bounce
    AUTOREPLY = "autoreply"
    ARF = "arf"
    REPLY = "reply"  # the recipient's own answer
    PIXEL = "pixel"


class ReportKind(StrEnum):
    """What a received report is, as the parser reads it. An event it makes has the same name as its source."""

    DSN = "dsn"
    MDN = "mdn"
    BOUNCE = "bounce"
    AUTOREPLY = "autoreply"
    ARF = "arf"
    UNKNOWN = "unknown"  # not a report: never makes an event

    @property
    def source(self) -> EventSource:
        """The source of the events this report makes; ValueError for UNKNOWN, which makes none."""
        return EventSource(self.value)


class Via(StrEnum):
    """How a report reached maild; kept apart from what it said (``EventSource``)."""

    IMAP = "imap"
    MAILDIR = "maildir"
    LMTP = "lmtp"
    PIPE = "pipe"


# Events that carry read information: hidden when the department has receipts off.
READ_KINDS = frozenset({
    EventKind.DISPLAYED, EventKind.DELETED, EventKind.DENIED, EventKind.DISPATCHED, EventKind.PROCESSED,
    EventKind.MDN_FAILED, EventKind.REPLIED, EventKind.OPENED,
})
FAILURE_KINDS = frozenset({EventKind.FAILED, EventKind.BOUNCED})
FINAL_DSN_KINDS = frozenset({EventKind.DELIVERED, EventKind.RELAYED})
DELIVERY_KINDS = frozenset({EventKind.ACCEPTED, EventKind.DELIVERED, EventKind.RELAYED, EventKind.EXPANDED})
