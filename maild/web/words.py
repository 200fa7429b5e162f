"""The words the panel shows for states, sources and event kinds: one table each, text before any icon.

Reasons are not here: their words come from the core's typed reason table
(maild.core.reasons.in_words), the one table the CLI, the API and the panel share.
"""

from __future__ import annotations

from maild.core.states import RecipientState, ReplyState

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

def event_words(kind: str) -> str:
    return EVENT_WORDS.get(kind, kind)


def source_words(source: str) -> str:
    return SOURCE_WORDS.get(source, source)
