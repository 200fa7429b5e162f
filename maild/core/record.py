"""The one per-recipient status record, and the event that carries it: what every reader, writer and face uses.

Like Postfix's DSN record, one ``StatusRecord`` holds what anyone said about
one recipient (status code, action, reason, diagnostic, remote and reporting
MTA, reporting UA, SMTP reply code), whether it came from our own SMTP
delivery, a DSN, an MDN or a heuristic bounce. An ``Event`` is one stored
entry of a recipient's log: what happened (kind), when, what the world said
it with (source), how that reached maild (via), the record, and, when the
reader loaded it, which copy it is about (``EventPlace``). ``maild.status``
computes states from events; queries, the CLI, the HTTP API and webhooks
show them through ``maild.core.jsonvalue.to_json``.
"""

from __future__ import annotations

from collections.abc import Mapping

from maild.core.events import EventKind, EventSource, RecipientKind, Via
from maild.core.frozen import field, frozen
from maild.core.jsonvalue import HIDDEN, INLINE

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)
if TYPE_CHECKING:
    from typing import Any


@frozen
class StatusRecord:
    """One per-recipient status, whatever told us: an SMTP reply, a DSN, an MDN or a heuristic bounce."""

    status: str | None = None  # enhanced status code, "5.1.1"
    action: str | None = None  # DSN action or MDN disposition
    reason: str | None = None  # maild.core.reasons.Reason value: userunknown, mailboxfull, expired...
    hard: bool | None = None  # a permanent failure of the address itself
    diagnostic: str | None = None  # the SMTP reply or diagnostic text
    remote_mta: str | None = None  # the DSN's Remote-MTA (else its Reporting-MTA), or our upstream
    reply_code: int | None = None  # the basic SMTP reply code, 550
    reporting_mta: str | None = None  # the DSN's Reporting-MTA
    reporting_ua: str | None = None  # the MDN's Reporting-UA


EMPTY = StatusRecord()


@frozen
class EventPlace:
    """Which copy an event is about: its message, ticket and recipient."""

    message: int = field(metadata=HIDDEN)  # messages.id: internal
    ticket: str | None
    message_id: str | None  # the reply's Message-ID header
    recipient: str  # the address
    recipient_kind: RecipientKind


@frozen
class Event:
    """One stored event of one recipient."""

    id: int  # the stable cursor: ids grow in recording order
    kind: EventKind
    at: str  # ISO 8601 UTC, fixed width: text order is time order
    source: EventSource  # what the world said: smtp, dsn, mdn, bounce, ...
    via: Via | None = None  # how a report reached maild; None for our own acts (smtp, admin)
    record: StatusRecord = field(default=EMPTY, metadata=INLINE)
    recorded_at: str | None = None  # when maild learned it
    place: EventPlace | None = field(default=None, metadata=INLINE)  # None when the reader did not load it
    detail: Mapping[str, Any] | None = field(default=None, metadata=HIDDEN)  # read events' detail, for the evidence

    @property
    def action(self) -> str | None:
        """The record's action (an `opened` event's human/machine), as maild.readsignals reads it."""
        return self.record.action
