"""Read signals: which events say a recipient read a reply (MDN, reply, pixel), which of them count, and the evidence list.

Pure functions over status events; `maild.status.recipient_state` uses them
for `read_at`, `read_via` and `evidence`, and the SQL view `recipient_status`
(maild/store/schema_inbound.py) implements the same rules:

* A counted signal makes a recipient read: an MDN `displayed`, a `replied`
  event (the recipient answered, seen by an [[inbound]] source), and a pixel
  `opened` classified `human` (a `machine` open counts only when the operator
  sets `[pixel] count_machine_opens`).
* A declined receipt (MDN `denied`) or a deleted-unread MDN stays so unless an
  MDN `displayed` or a reply proves reading: a pixel open never overturns it
  (an image fetch is weaker evidence than the recipient's own answer).
* `read_at` is the earliest counted signal, `read_via` its kind (`mdn`,
  `reply`, `pixel`); ties go to the event recorded first.
* With the department's receipts off, none of this is shown (the caller
  passes no read events at all).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from operator import attrgetter

from maild.core.events import EventKind
from maild.core.frozen import frozen

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)
if TYPE_CHECKING:
    from typing import Any, Protocol
else:
    from maild.core.hints import Protocol


class ReadVia(StrEnum):
    MDN = "mdn"
    REPLY = "reply"
    PIXEL = "pixel"


MDN_KINDS = frozenset({
    EventKind.DISPLAYED, EventKind.DELETED, EventKind.DENIED, EventKind.DISPATCHED, EventKind.PROCESSED,
    EventKind.MDN_FAILED,
})
STRONG_READ_KINDS = frozenset({EventKind.DISPLAYED, EventKind.REPLIED})  # overturn a declined receipt
OUTCOME_KINDS = frozenset({EventKind.DENIED, EventKind.DELETED})
SIGNAL_KINDS = MDN_KINDS | {EventKind.REPLIED, EventKind.OPENED}

HUMAN = "human"  # an `opened` event's action when the fetch looked like a person's mail client
MACHINE = "machine"


class SignalEvent(Protocol):
    """What these rules read of an event (maild.core.record.Event has it)."""

    @property
    def id(self) -> int: ...
    @property
    def kind(self) -> EventKind: ...
    @property
    def at(self) -> str: ...
    @property
    def action(self) -> str | None: ...
    @property
    def detail(self) -> Mapping[str, Any] | None: ...


@frozen
class Evidence:
    """One read signal behind a recipient's verdict, in words and in fields."""

    signal: ReadVia
    event: str  # the event kind: displayed, denied, replied, opened...
    at: str
    counted: bool  # this signal made (or helps make) the recipient read
    text: str  # "MDN displayed — Thunderbird 128 — 10:43", "replied 11:02", "opened 10:40 through Apple's proxy (not counted)"
    agent: str | None = None  # the MDN's Reporting-UA, or the pixel's classification label
    author: str | None = None  # who answered (a reply)


@frozen
class ReadVerdict:
    read_at: str | None
    read_via: ReadVia | None
    outcome: EventKind | None  # the latest denied/deleted MDN when no strong signal overturns it
    evidence: tuple[Evidence, ...]


NOTHING_READ = ReadVerdict(read_at=None, read_via=None, outcome=None, evidence=())  # no read signal at all


def via_of(kind: EventKind) -> ReadVia | None:
    if kind in MDN_KINDS:
        return ReadVia.MDN
    if kind is EventKind.REPLIED:
        return ReadVia.REPLY
    if kind is EventKind.OPENED:
        return ReadVia.PIXEL
    return None


_order = attrgetter("at", "id")  # (at, id) order, without a Python call per event


def verdict(events: Iterable[SignalEvent], *, count_machine_opens: bool = False) -> ReadVerdict:
    """The read verdict of one recipient from its (visible) events; other kinds are ignored."""
    signals = [e for e in events if e.kind in SIGNAL_KINDS]
    if not signals:
        return NOTHING_READ  # most recipients: no read signal at all (maild status reads one verdict per recipient)
    signals.sort(key=_order)
    outcome: EventKind | None = None
    for e in signals:
        if e.kind in OUTCOME_KINDS:
            outcome = e.kind  # the latest
    # One pass for what counts and the evidence (`maild status` reads a verdict for every recipient with a signal:
    # a closure and two passes were most of its cost).
    first: SignalEvent | None = None
    evidence = []
    for e in signals:
        kind = e.kind
        counted = kind in STRONG_READ_KINDS or (
            kind is EventKind.OPENED and outcome is None and (count_machine_opens or e.action == HUMAN))
        if counted and first is None:
            first = e
        evidence.append(_evidence(e, counted))
    return ReadVerdict(
        read_at=first.at if first else None,
        read_via=via_of(first.kind) if first else None,
        outcome=None if first is not None else outcome,
        evidence=tuple(evidence),
    )


def _time(at: str) -> str:
    return at[11:16] if len(at) >= 16 else at


def _ua(detail: Mapping[str, Any] | None) -> str | None:
    """The program of an MDN's Reporting-UA ("host; Thunderbird 128" -> "Thunderbird 128"), for people to read."""
    report = (detail or {}).get("report")
    text = report.get("reporting_ua") if isinstance(report, Mapping) else (detail or {}).get("reporting_ua")
    if not isinstance(text, str) or not text.strip():
        return None
    parts = [p.strip() for p in text.split(";") if p.strip()]
    return (parts[-1] if parts else text.strip())[:80]


_MDN_WORDS = {
    EventKind.DISPLAYED: "MDN displayed",
    EventKind.DENIED: "MDN denied (receipt declined)",
    EventKind.DELETED: "MDN deleted unread",
    EventKind.DISPATCHED: "MDN dispatched",
    EventKind.PROCESSED: "MDN processed",
    EventKind.MDN_FAILED: "MDN failed",
}


def _evidence(e: SignalEvent, counted: bool) -> Evidence:
    detail = e.detail or {}
    when = _time(e.at)
    if e.kind is EventKind.REPLIED:
        author = detail.get("author") if isinstance(detail.get("author"), str) else None
        by = detail.get("matched_by")
        text = f"replied {when}" + (f" (matched by {by})" if isinstance(by, str) and by != "from" else "")
        return Evidence(ReadVia.REPLY, str(e.kind), e.at, counted, text, author=author)
    if e.kind is EventKind.OPENED:
        label = detail.get("label") if isinstance(detail.get("label"), str) else None
        kind = e.action or MACHINE
        text = f"opened {when}"
        if kind == MACHINE:
            text += f" through {label}" if label else " by a machine"
        elif label:
            text += f" ({label})"
        if not counted:
            text += " (not counted)"
        return Evidence(ReadVia.PIXEL, str(e.kind), e.at, counted, text, agent=label)
    ua = _ua(detail)
    words = _MDN_WORDS.get(e.kind) or f"MDN {e.kind}"  # not formatted for every MDN as get()'s default
    text = words + (f" — {ua}" if ua else "") + (f" — {when}" if when else "")
    if e.kind in (EventKind.DISPATCHED, EventKind.PROCESSED, EventKind.MDN_FAILED):
        text += " (not counted)"
    return Evidence(ReadVia.MDN, str(e.kind), e.at, counted, text, agent=ua)
