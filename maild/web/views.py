"""View models: pure functions from maild.status values and query rows to exactly what a panel page shows.

No I/O and no HTML here: templates only place these values (autoescaped). Every state has words
next to its check marks, so nothing is told by colour or icon alone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from maild import departments
from maild.core.events import EventKind, EventSource
from maild.core.reasons import in_words
from maild.core.states import RecipientState
from maild.queries import DepartmentRow, ReplyRow
from maild.core.record import Event
from maild.status import RecipientStatus, ReplyStatus, ThreadInfo
from maild.web import words


@dataclass(frozen=True, slots=True)
class CheckMark:
    state: str  # ReplyState value: the data-state contract
    ticks: int  # marks lit, 0 to `of`
    of: int  # 2 for one recipient, 4 for several
    words: str  # the state as text
    bounced: bool  # show the bounce label (every recipient failed)


@dataclass(frozen=True, slots=True)
class FailureView:
    reason: str | None  # in a helpdesk's words
    status: str | None
    diagnostic: str | None
    reported_by: str | None  # remote or reporting MTA
    source: str
    at: str


@dataclass(frozen=True, slots=True)
class TimelineRow:
    at: str
    what: str
    source: str  # "our SMTP delivery", "delivery report (DSN) from mx.example.net", ...
    detail: str | None  # status code, diagnostic


@dataclass(frozen=True, slots=True)
class RecipientView:
    address: str
    kind: str  # to, cc, bcc: the data-kind contract
    kind_label: str
    state: str  # RecipientState value: the data-state contract
    state_words: str
    delivered_at: str | None
    read_at: str | None
    no_receipt: str | None  # why there is no read receipt, when known
    failure: FailureView | None
    timeline: tuple[TimelineRow, ...]


@dataclass(frozen=True, slots=True)
class ReplyView:
    message_id: str | None
    subject: str
    queued_at: str
    mark: CheckMark
    recipients: tuple[RecipientView, ...]
    ticket: str | None = None
    department: str | None = None
    summary: str = ""  # "2 of 3 read", for lists


@dataclass(frozen=True, slots=True)
class TicketView:
    ticket: str
    department: str | None
    receipts_enabled: bool
    replies: tuple[ReplyView, ...]


@dataclass(frozen=True, slots=True)
class DepartmentView:
    name: str
    receipts_enabled: bool
    explicit: bool
    replies: int
    switch_label: str  # what its button does
    state_words: str
    pixel: bool = False  # the opt-in open pixel (switched with `maild departments pixel NAME on|off`)
    switched: str | None = None  # "off by alice in the panel": the latest recorded switch (None: never)
    switched_at: str | None = None
    switched_by: str | None = None


_VIA_WORDS = {"web": "in the panel", "api": "through the API", "cli": "with maild departments"}


def switch_words(switch: departments.Switch) -> str:
    """ "off by alice in the panel": what the latest switch did, who did it and from where."""
    who = f" by {switch.by}" if switch.by else ""
    return f"{'on' if switch.receipts_enabled else 'off'}{who} {_VIA_WORDS.get(switch.via, 'via ' + switch.via)}"


def check_mark(reply: ReplyStatus) -> CheckMark:
    single = len(reply.recipients) <= 1
    table = words.SINGLE_TICKS if single else words.MULTI_TICKS
    return CheckMark(
        state=str(reply.state),
        ticks=table.get(reply.state, 0),
        of=2 if single else 4,
        words=words.REPLY_STATE_WORDS[reply.state],
        bounced=reply.bounce_label,
    )


def _who(reported_by: str | None) -> str | None:
    """ "dns; mx.example.net" -> "mx.example.net": the name without its RFC 3464 type."""
    if not reported_by:
        return None
    _, sep, name = reported_by.partition(";")
    return (name if sep else reported_by).strip() or None


def failure_view(e: Event) -> FailureView:
    f = e.record
    return FailureView(
        reason=in_words(f.reason, f.status),
        status=f.status,
        diagnostic=f.diagnostic,
        reported_by=_who(f.remote_mta),
        source=words.source_words(e.source),
        at=e.at,
    )


def timeline_row(e: Event) -> TimelineRow:
    f = e.record
    source = words.source_words(e.source)
    who = _who(f.reporting_ua) if e.source == EventSource.MDN else _who(f.reporting_mta) or _who(f.remote_mta)
    if e.source == EventSource.SMTP and f.remote_mta:
        who = _who(f.remote_mta)
    if who and e.source != EventSource.ADMIN:
        source = f"{source} from {who}"
    if e.via:
        source = f"{source}, via {e.via}"
    detail = " ".join(x for x in (f.status, f.diagnostic) if x) or None
    what = words.event_words(e.kind)
    reason = in_words(f.reason, f.status) if e.kind in _REASONED else None
    if reason:
        what = f"{what}: {reason}"
    return TimelineRow(e.at, what, source, detail)


_REASONED = frozenset({EventKind.FAILED, EventKind.BOUNCED, EventKind.DEFERRED, EventKind.DELAYED})  # why, in words


def recipient_view(r: RecipientStatus, timeline: Sequence[Event] = (), *, receipts_enabled: bool) -> RecipientView:
    no_receipt = None
    if r.state != RecipientState.READ:
        no_receipt = words.NO_RECEIPT_WORDS.get(r.state) if receipts_enabled else "read receipts are off for this department"
    failure = None if r.failure is None else failure_view(r.failure)
    told = [e for e in timeline if e.kind in ("failed", "bounced") and e.at == r.failure.at] if r.failure else []
    if failure is not None and told:  # the timeline knows what the report was, not only how it arrived
        failure = dataclasses.replace(failure, source=words.source_words(told[-1].source))
    return RecipientView(
        address=r.address,
        kind=str(r.kind),
        kind_label=words.KIND_WORDS[str(r.kind)],
        state=str(r.state),
        state_words=words.RECIPIENT_STATE_WORDS[r.state],
        delivered_at=r.delivered_at,
        read_at=r.read_at,
        no_receipt=no_receipt,
        failure=failure,
        timeline=tuple(timeline_row(e) for e in timeline),
    )


def _summary(reply: ReplyStatus, receipts_enabled: bool) -> str:
    n = len(reply.recipients)
    failed = sum(r.state in (RecipientState.FAILED, RecipientState.BOUNCED) for r in reply.recipients)
    delivered = sum(r.delivered_at is not None and r.state not in (RecipientState.FAILED, RecipientState.BOUNCED)
                    for r in reply.recipients)
    parts = [f"{n} recipient{'s' if n != 1 else ''}", f"{delivered} delivered"]
    if receipts_enabled:
        parts.append(f"{sum(r.state == RecipientState.READ for r in reply.recipients)} read")
    if failed:
        parts.append(f"{failed} failed")
    return ", ".join(parts)


def reply_view(
    reply: ReplyStatus,
    *,
    receipts_enabled: bool,
    timelines: Mapping[tuple[str | None, str], Sequence[Event]] | None = None,
    ticket: str | None = None,
    department: str | None = None,
) -> ReplyView:
    lines = timelines or {}
    return ReplyView(
        message_id=reply.message_id,
        subject=reply.subject or "(no subject)",
        queued_at=reply.queued_at,
        mark=check_mark(reply),
        recipients=tuple(
            recipient_view(r, lines.get((reply.message_id, r.address), ()), receipts_enabled=receipts_enabled)
            for r in reply.recipients
        ),
        ticket=ticket,
        department=department,
        summary=_summary(reply, receipts_enabled),
    )


def ticket_view(
    info: ThreadInfo, timelines: Mapping[tuple[str | None, str], Sequence[Event]] | None = None
) -> TicketView:
    return TicketView(
        ticket=info.ticket,
        department=info.department,
        receipts_enabled=info.receipts_enabled,
        replies=tuple(
            reply_view(r, receipts_enabled=info.receipts_enabled, timelines=timelines, ticket=info.ticket,
                       department=info.department)
            for r in info.replies
        ),
    )


def reply_list(rows: Iterable[ReplyRow]) -> tuple[ReplyView, ...]:
    """Rows of the replies list: the mark and the summary; no recipient rows (the list shows none)."""
    return tuple(
        ReplyView(
            message_id=r.reply.message_id,
            subject=r.reply.subject or "(no subject)",
            queued_at=r.reply.queued_at,
            mark=check_mark(r.reply),
            recipients=(),
            ticket=r.ticket,
            department=r.department,
            summary=_summary(r.reply, r.receipts_enabled),
        )
        for r in rows
    )


def department_views(rows: Iterable[DepartmentRow], pixel: Mapping[str, bool] | None = None) -> tuple[DepartmentView, ...]:
    """`pixel`: the open pixel switch by department key (maild.departments.pixel_switches)."""
    pixel = pixel or {}
    return tuple(
        DepartmentView(
            name=d.name,
            receipts_enabled=d.receipts_enabled,
            explicit=d.explicit,
            replies=d.replies,
            switch_label=f"Switch read receipts {'off' if d.receipts_enabled else 'on'} for {d.name}",
            state_words=("read receipts on" if d.receipts_enabled else "read receipts off")
            + ("" if d.explicit else " (default)"),
            pixel=pixel.get(departments.key(d.name), False),
            switched=None if d.last_switch is None else switch_words(d.last_switch),
            switched_at=None if d.last_switch is None else d.last_switch.at,
            switched_by=None if d.last_switch is None else d.last_switch.by,
        )
        for d in rows
    )


def display_time(iso: str | None) -> str:
    """ "2026-03-01T12:30:00.000Z" -> "2026-03-01 12:30 UTC" (the browser shows it in local time when it runs scripts)."""
    if not iso:
        return ""
    if len(iso) >= 16 and iso[10] == "T":
        return f"{iso[:10]} {iso[11:16]} UTC"
    return iso

