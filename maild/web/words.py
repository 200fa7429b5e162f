"""The words the panel shows for states, reasons, sources and event kinds: one table each, text before any icon.

Reasons come from the core's typed reason table when it is there (maild.core.reasons, issue 9);
until then `_REASONS` below is the one place that holds them.
"""

from __future__ import annotations

from maild.status import RecipientState, ReplyState

REPLY_STATE_WORDS: dict[ReplyState, str] = {
    ReplyState.PENDING: "not delivered yet",
    ReplyState.DELIVERED: "delivered",
    ReplyState.READ_BY_CC: "read by a Cc or Bcc recipient",
    ReplyState.READ_BY_TO: "read by a To recipient",
    ReplyState.READ: "read",
    ReplyState.FAILED: "bounced",
}

# The check marks: how many ticks a state shows (0 to 4), as in the helpdesk feature maild reproduces.
# One recipient: delivered = 1, read = 2. Several: the four rising states.
SINGLE_TICKS: dict[ReplyState, int] = {ReplyState.PENDING: 0, ReplyState.DELIVERED: 1, ReplyState.READ: 2}
MULTI_TICKS: dict[ReplyState, int] = {
    ReplyState.PENDING: 0,
    ReplyState.DELIVERED: 1,
    ReplyState.READ_BY_CC: 2,
    ReplyState.READ_BY_TO: 3,
    ReplyState.READ: 4,
}

RECIPIENT_STATE_WORDS: dict[RecipientState, str] = {
    RecipientState.QUEUED: "waiting to be sent",
    RecipientState.DEFERRED: "sending is being retried",
    RecipientState.DELIVERED: "delivered",
    RecipientState.DELAYED: "delayed on the way",
    RecipientState.READ: "read",
    RecipientState.DECLINED: "delivered; the recipient declined to send a read receipt",
    RecipientState.DELETED_UNREAD: "delivered; deleted without being read",
    RecipientState.BOUNCED: "bounced",
    RecipientState.FAILED: "could not be delivered",
}

# Why no read receipt is shown, when the state says it.
NO_RECEIPT_WORDS: dict[RecipientState, str] = {
    RecipientState.QUEUED: "no receipt yet: not delivered",
    RecipientState.DEFERRED: "no receipt yet: not delivered",
    RecipientState.DELAYED: "no receipt yet: still on its way",
    RecipientState.DELIVERED: "no receipt yet: still unread, or the recipient's mail program sends none",
    RecipientState.DECLINED: "the recipient declined to send a receipt",
    RecipientState.DELETED_UNREAD: "deleted unread",
    RecipientState.BOUNCED: "no receipt: the mail bounced",
    RecipientState.FAILED: "no receipt: the mail was not delivered",
}

KIND_WORDS = {"to": "To", "cc": "Cc", "bcc": "Bcc"}

EVENT_WORDS: dict[str, str] = {
    "queued": "queued",
    "accepted": "accepted by our upstream server",
    "deferred": "temporarily refused; will retry",
    "delayed": "reported delayed",
    "delivered": "reported delivered",
    "relayed": "reported relayed onwards",
    "expanded": "delivered to a list or alias",
    "failed": "failed",
    "bounced": "bounced",
    "displayed": "read",
    "deleted": "deleted unread",
    "dispatched": "forwarded or printed unread",
    "processed": "processed by the recipient's system",
    "denied": "receipt declined",
    "mdn_failed": "the recipient's system could not send a receipt",
    "autoreplied": "automatic reply",
    "complained": "reported as abuse",
    "replied": "the recipient replied",
    "opened": "opened",
}

SOURCE_WORDS: dict[str, str] = {
    "smtp": "our SMTP delivery",
    "admin": "an administrator",
    "dsn": "delivery report (DSN)",
    "mdn": "read receipt (MDN)",
    "bounce": "bounce message",
    "autoreply": "automatic reply",
    "arf": "abuse report",
    "reply": "the recipient's reply",
    "pixel": "open pixel",
}

# reason -> (meaning for a helpdesk, kind): kind is "permanent", "temporary" or "maybe_fine"
# (a block about our server or message: the address itself may be fine).
_REASONS: dict[str, tuple[str, str]] = {
    "userunknown": ("address does not exist", "permanent"),
    "hostunknown": ("domain does not exist", "permanent"),
    "hasmoved": ("address has moved", "permanent"),
    "notaccept": ("domain accepts no mail", "permanent"),
    "mailboxfull": ("mailbox full", "temporary"),
    "suspend": ("mailbox disabled or suspended", "temporary"),
    "expired": ("could not be delivered in time (retries ran out)", "temporary"),
    "networkerror": ("network or DNS error on the way", "temporary"),
    "systemfull": ("the recipient's server is out of space", "temporary"),
    "systemerror": ("error on the recipient's server", "temporary"),
    "toomanyconn": ("too many connections to the recipient's server", "temporary"),
    "ratelimited": ("sending rate limited by the recipient's server", "temporary"),
    "speeding": ("sending too fast for the recipient's server", "temporary"),
    "blocked": ("our server is blocked by the recipient's server", "maybe_fine"),
    "spamdetected": ("blocked by the recipient's spam policy", "maybe_fine"),
    "policyviolation": ("refused by the recipient's policy", "maybe_fine"),
    "badreputation": ("our server's reputation is too low", "maybe_fine"),
    "authfailure": ("failed sender authentication (SPF, DKIM, DMARC)", "maybe_fine"),
    "requireptr": ("our server needs a reverse DNS name", "maybe_fine"),
    "securityerror": ("refused for a security requirement", "maybe_fine"),
    "rejected": ("our sender address was refused", "maybe_fine"),
    "norelaying": ("the server refused to relay it", "maybe_fine"),
    "filtered": ("refused by the recipient's filter", "maybe_fine"),
    "contenterror": ("the content was refused", "maybe_fine"),
    "virusdetected": ("refused as a virus", "maybe_fine"),
    "mesgtoobig": ("message too big for the recipient's server", ""),
    "exceedlimit": ("message exceeds the recipient's limit", ""),
    "syntaxerror": ("protocol error between mail servers", ""),
    "notcompliantrfc": ("message not standards-compliant", ""),
    "onhold": ("held: the report does not say why", ""),
    "mailererror": ("the recipient's delivery program failed", ""),
    "undefined": ("failed for a reason the report does not say", ""),
    "deleted by admin": ("removed from the queue by an administrator", ""),
}
_SUFFIX = {"permanent": " — permanent", "temporary": " — temporary", "maybe_fine": " — the address may be fine"}


def _fallback_reason_words(reason: str, status: str | None) -> str:
    row = _REASONS.get(reason)
    if row is None:
        return reason  # a name maild does not know: shown as stored (escaped like everything else)
    meaning, kind = row
    if kind == "permanent" and (status or "").startswith("4"):
        kind = "temporary"  # a 4.x.x is never the address's fault
    elif not kind and (status or "").startswith("4"):
        kind = "temporary"
    return meaning + _SUFFIX.get(kind, "")


def reason_words(reason: str | None, status: str | None = None) -> str | None:
    """"mailbox full — temporary": a failure's reason as a helpdesk reads it; None without a reason."""
    if not reason:
        return None
    try:
        from maild.core import reasons as core_reasons  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return _fallback_reason_words(reason, status)
    words = core_reasons.in_words(reason, status)
    return None if words is None else str(words)


def event_words(kind: str) -> str:
    return EVENT_WORDS.get(kind, kind)


def source_words(source: str) -> str:
    return SOURCE_WORDS.get(source, source)
