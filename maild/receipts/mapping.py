"""What a report says about one recipient, as an event: its kind, its sane date, its status record and detail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from maild.clock import iso
from maild.core.events import EventKind, Via
from maild.core.jsonvalue import to_json
from maild.core.lazyre import lazy
from maild.core.record import StatusRecord
from maild.reports.model import RecipientResult, Report, ReportKind

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)
if TYPE_CHECKING:
    from typing import Any

CLOCK_SKEW = timedelta(minutes=5)  # a report dated this far past its arrival still counts as on time

_DSN_ACTIONS = {
    "delivered": EventKind.DELIVERED,
    "relayed": EventKind.RELAYED,
    "expanded": EventKind.EXPANDED,
    "delayed": EventKind.DELAYED,
    "failed": EventKind.BOUNCED,
}
_MDN_DISPOSITIONS = {
    "displayed": EventKind.DISPLAYED,
    "deleted": EventKind.DELETED,
    "dispatched": EventKind.DISPATCHED,
    "processed": EventKind.PROCESSED,
    "denied": EventKind.DENIED,
    "failed": EventKind.MDN_FAILED,
}
_REPLY_CODE = lazy(r"(?:^|[;\s])([245]\d\d)(?=[\s-]|$)")


def event_kind(kind: ReportKind, result: RecipientResult) -> EventKind | None:
    """The event one recipient result stands for, or None when it says nothing usable."""
    action = (result.action or "").strip().lower()
    if kind is ReportKind.DSN:
        if action in _DSN_ACTIONS:
            return _DSN_ACTIONS[action]
        return _by_status(result.status)
    if kind is ReportKind.BOUNCE:
        return EventKind.DELAYED if action == "delayed" else EventKind.BOUNCED
    if kind is ReportKind.MDN:
        return _MDN_DISPOSITIONS.get((result.disposition or "").strip().lower())
    if kind is ReportKind.AUTOREPLY:
        return EventKind.AUTOREPLIED
    if kind is ReportKind.ARF:
        return EventKind.COMPLAINED
    return None


def _by_status(status: str | None) -> EventKind | None:
    """A DSN field with no (known) Action: its status class decides."""
    first = (status or "").strip()[:1]
    return {"2": EventKind.DELIVERED, "4": EventKind.DELAYED, "5": EventKind.BOUNCED}.get(first)


def parse_date(text: str | None) -> datetime | None:
    """An RFC 5322 date (or ISO 8601) as aware UTC; None when absent or unreadable."""
    if not text or not text.strip():
        return None
    text = text.strip()
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def event_time(report: Report, result: RecipientResult, *, queued_at: datetime, received_at: datetime) -> datetime:
    """The report's own date for this recipient, kept only within [queued, received + skew]; else when it was received.

    Last-Attempt-Date says when the remote MTA acted; the report's Date when it
    was written; Arrival-Date only when the MTA took our copy (earliest, last resort).
    """
    for text in (result.last_attempt_date, report.date, report.arrival_date):
        moment = parse_date(text)
        if moment is not None and queued_at <= moment <= received_at + CLOCK_SKEW:
            return moment
    return received_at


def reply_code(diagnostic: str | None) -> int | None:
    """The basic SMTP reply code in a diagnostic such as 'smtp; 550 5.1.1 user unknown'."""
    if not diagnostic:
        return None
    m = _REPLY_CODE.search(diagnostic[:200])
    return int(m.group(1)) if m else None


def status_record(report: Report, result: RecipientResult) -> StatusRecord:
    action = result.action or result.disposition or str(report.kind)
    return StatusRecord(
        status=result.status,
        action=action,
        reason=result.reason,
        hard=result.hard,
        diagnostic=result.diagnostic,
        remote_mta=result.remote_mta or report.reporting_mta,
        reply_code=reply_code(result.diagnostic),
        reporting_mta=report.reporting_mta,
        reporting_ua=report.reporting_ua,
    )


def report_headers(report: Report) -> dict[str, Any]:
    """The report's headers and fields of interest (never its body), for an event's detail."""
    return {
        "kind": str(report.kind),
        "fingerprint": report.fingerprint,
        "message_id": report.message_id,
        "original_message_id": report.original_message_id,
        "envelope_id": report.envelope_id,
        "reporting_mta": report.reporting_mta,
        "reporting_ua": report.reporting_ua,
        "arrival_date": report.arrival_date,
        "date": report.date,
        "subject": report.subject,
        "problems": list(report.problems),
    }


def event_detail(
    report: Report, result: RecipientResult, *, matched_by: str, ingest_source: str, ref: str, received_at: datetime
) -> dict[str, Any]:
    return {
        "report": report_headers(report),
        "recipient": to_json(result),
        "matched_by": matched_by,
        "ingest_source": ingest_source,
        "ref": ref,
        "received_at": iso(received_at),
    }


def via_of(name: str) -> Via | None:
    """How a report reached maild, from a source's name (imap, maildir, lmtp, pipe); None for any other name."""
    try:
        return Via(name)
    except ValueError:
        return None
