"""Status: pure functions from a recipient's events to its state, from recipients to a reply's state, and thread read info.

Rules (the SQL views in maild/store/schema_status.py implement the same ones;
tests/status/test_views_agree.py holds them to it):

Recipient state, events taken in (at, id) order:
* Failure is sticky: once a `failed` or `bounced` event exists the delivery
  state is the kind of the latest one, whatever delivery event came before or
  after ("a bounce after acceptance beats the acceptance").
* Otherwise a `delivered`/`relayed` DSN gives `delivered` for good (a delay
  reported afterwards does not undo a final DSN); failing that the latest of
  queued/deferred/accepted/expanded/delayed decides: accepted and expanded are
  `delivered`, delayed is `delayed` ("a later delivery after a delay clears
  the delay").
* Read information (only when the department has receipts on): any counted
  read signal (an MDN `displayed`, a reply, a human pixel open; see
  maild/readsignals.py) gives `read` (read_at is the first one, read_via its
  kind); otherwise the latest of `denied`/`deleted` gives
  `declined`/`deleted_unread` (which only an MDN `displayed` or a reply
  overturns, never a pixel open). A read state beats
  every delivery state, failures included: an MDN proves the copy arrived, so a
  bounce reported after a read (edge case) leaves the recipient `read`, with
  the bounce shown in `failure`. With receipts off read events (MDN, reply,
  pixel) are ignored altogether, so that recipient shows `bounced`.

Reply state:
* One recipient: `failed` when it failed or bounced, `read` when it read,
  `delivered` when delivered (declined and deleted unread count as delivered,
  delayed does not), else `pending`.
* Several: `failed` (bounce_label) only when every recipient failed or
  bounced; else `read` when every recipient read it (a failed recipient never
  reads, so one failed and one read recipient give read_by_to/read_by_cc, not
  `read`); else `read_by_to` when a To recipient read it; else `read_by_cc`
  when a Cc or Bcc recipient read it; else `delivered` when delivered to a To
  or Cc recipient (edge case: a reply with only Bcc recipients counts its Bcc
  recipients instead); else `pending`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from operator import attrgetter

from maild.core.events import (
    DELIVERY_KINDS,
    FAILURE_KINDS,
    FINAL_DSN_KINDS,
    EventKind,
    RecipientKind,
)
from maild.core.frozen import field, frozen
from maild.core.jsonvalue import only, shown_as
from maild.core.record import Event
from maild.core.states import (
    DELIVERED_STATES,
    FAILED_STATES,
    RecipientState,
    ReplyState,
)
from maild import readsignals
from maild.readsignals import Evidence, ReadVia

_PROGRESS = {
    EventKind.QUEUED: RecipientState.QUEUED,
    EventKind.DEFERRED: RecipientState.DEFERRED,
    EventKind.ACCEPTED: RecipientState.DELIVERED,
    EventKind.EXPANDED: RecipientState.DELIVERED,
    EventKind.DELAYED: RecipientState.DELAYED,
}
# What `maild status --json` shows of a recipient's failure (DESIGN.md).
FAILURE_FIELDS = ("status", "reason", "hard", "diagnostic", "remote_mta", "source", "at")

_SIGNAL_KINDS = readsignals.SIGNAL_KINDS  # MDNs, replies, pixel opens: no delivery kind among them
# The events recipient_state reads beyond their id, kind and time: failures (shown as `failure`) and read signals
# (their evidence). A reader that loads events only for states may load the others by id, kind, time and source.
WHOLE_EVENT_KINDS = FAILURE_KINDS | _SIGNAL_KINDS
_READ_OUTCOME = {EventKind.DENIED: RecipientState.DECLINED, EventKind.DELETED: RecipientState.DELETED_UNREAD}


@frozen
class RecipientStatus:
    address: str
    kind: RecipientKind
    state: RecipientState
    delivered_at: str | None
    read_at: str | None
    failure: Event | None = field(metadata=only(*FAILURE_FIELDS))  # the latest failed/bounced event
    read_via: ReadVia | None = None  # mdn, reply or pixel: the signal read_at comes from
    evidence: tuple[Evidence, ...] = ()  # every read signal behind the state, counted or not


@frozen
class ThirdPartyAnswer:
    """Someone who was not a recipient answered the reply (a colleague it was forwarded to): no one's read state."""

    author: str | None
    at: str


@frozen
class ReplyStatus:
    message_id: str | None
    subject: str | None
    queued_at: str
    state: ReplyState
    bounce_label: bool
    recipients: tuple[RecipientStatus, ...]
    # hidden, like every read signal, with receipts off
    third_party: tuple[ThirdPartyAnswer, ...] = field(default=(), metadata=shown_as("answered_by_third_party"))


@frozen
class ThreadInfo:
    ticket: str
    department: str | None
    receipts_enabled: bool
    replies: tuple[ReplyStatus, ...]


_order: Callable[[Event], tuple[str, int]] = attrgetter("at", "id")  # (at, id) order; attrgetter: no Python call per event


def recipient_state(
    events: Iterable[Event], *, address: str, kind: RecipientKind, receipts_enabled: bool,
    count_machine_opens: bool = False,
) -> RecipientStatus:
    """The state of one recipient from its events; read information only when receipts are enabled.

    Read signals (MDN, reply, pixel) and their evidence: `maild.readsignals`. Of an event whose kind is not in
    WHOLE_EVENT_KINDS only its id, kind and time are read.
    """
    ordered = sorted(events, key=_order)
    last_failure: Event | None = None
    final_dsn = False
    progress = RecipientState.QUEUED
    delivered_at: str | None = None
    signals = False
    for e in ordered:
        k = e.kind
        if delivered_at is None and k in DELIVERY_KINDS:
            delivered_at = e.at
        if k in FAILURE_KINDS:
            last_failure = e
        elif k in FINAL_DSN_KINDS:
            final_dsn = True
        elif (step := _PROGRESS.get(k)) is not None:
            progress = step
        elif k in _SIGNAL_KINDS:
            signals = True
    # Most recipients have no read signal: their verdict is known without reading their events again.
    read = (readsignals.verdict(ordered, count_machine_opens=count_machine_opens) if signals and receipts_enabled
            else readsignals.NOTHING_READ)
    read_at = read.read_at
    read_outcome = _READ_OUTCOME[read.outcome] if read.outcome is not None else None
    state: RecipientState
    if read_at is not None:
        state = RecipientState.READ
    elif read_outcome is not None:
        state = read_outcome
    elif last_failure is not None:
        state = RecipientState.BOUNCED if last_failure.kind == EventKind.BOUNCED else RecipientState.FAILED
    elif final_dsn:
        state = RecipientState.DELIVERED
    else:
        state = progress
    return RecipientStatus(address, kind, state, delivered_at, read_at, last_failure, read.read_via, read.evidence)


def reply_state(recipients: Sequence[RecipientStatus]) -> ReplyState:
    """The state of one reply from its recipients' states (see the module docstring for the rules)."""
    if not recipients:
        return ReplyState.PENDING
    states = {r.state for r in recipients}  # the states that occur: one set, not a generator per rule
    if states <= FAILED_STATES:
        return ReplyState.FAILED
    if len(recipients) == 1:
        (s,) = states
        if s == RecipientState.READ:
            return ReplyState.READ
        return ReplyState.DELIVERED if s in DELIVERED_STATES else ReplyState.PENDING
    if RecipientState.READ in states:
        if len(states) == 1:
            return ReplyState.READ
        if any(r.state == RecipientState.READ and r.kind == RecipientKind.TO for r in recipients):
            return ReplyState.READ_BY_TO
        return ReplyState.READ_BY_CC  # only Cc or Bcc recipients are left to have read it
    visible = [r for r in recipients if r.kind != RecipientKind.BCC] or list(recipients)
    if any(r.state in DELIVERED_STATES for r in visible):
        return ReplyState.DELIVERED
    return ReplyState.PENDING


def reply_status(
    *, message_id: str | None, subject: str | None, queued_at: str, recipients: Sequence[RecipientStatus],
    third_party: Sequence[ThirdPartyAnswer] = (),
) -> ReplyStatus:
    state = reply_state(recipients)
    return ReplyStatus(
        message_id, subject, queued_at, state, state == ReplyState.FAILED, tuple(recipients), tuple(third_party)
    )


# ------------------------------------------------------------------ assembling a thread


@frozen
class RecipientInput:
    address: str
    kind: RecipientKind
    events: tuple[Event, ...]


@frozen
class ReplyInput:
    message_id: str | None
    subject: str | None
    queued_at: str
    recipients: tuple[RecipientInput, ...]
    third_party: tuple[ThirdPartyAnswer, ...] = ()


def thread_info(
    ticket: str, department: str | None, receipts_enabled: bool, replies: Iterable[ReplyInput],
    *, count_machine_opens: bool = False,
) -> ThreadInfo:
    """Thread read info: every reply of a ticket with each recipient's state; `receipts_enabled` hides read info."""
    out = []
    for reply in replies:
        recipients = [
            recipient_state(r.events, address=r.address, kind=r.kind, receipts_enabled=receipts_enabled,
                            count_machine_opens=count_machine_opens)
            for r in reply.recipients
        ]
        out.append(
            reply_status(
                message_id=reply.message_id, subject=reply.subject, queued_at=reply.queued_at, recipients=recipients,
                third_party=reply.third_party if receipts_enabled else (),
            )
        )
    return ThreadInfo(ticket, department, receipts_enabled, tuple(out))
