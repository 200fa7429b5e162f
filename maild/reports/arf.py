"""RFC 5965 abuse feedback reports (ARF); Amazon SES's JSON complaints are in ses.py."""

from __future__ import annotations

from maild.core.reasons import Reason
from maild.reports import mime
from maild.reports.context import Context, Finding
from maild.reports.fields import address_of, all_addresses, parse_fields
from maild.reports.model import RecipientResult, ReportKind

_FEEDBACK_TYPES = ("message/feedback-report",)


def _complaint(address: str, diagnostic: str | None) -> RecipientResult:
    return RecipientResult(
        address=address, original_recipient=None, action=None, status=None, reason=Reason.FEEDBACK, hard=False,
        diagnostic=diagnostic, remote_mta=None, disposition=None,
    )


def detect(ctx: Context) -> Finding | None:
    report_text: str | None = None
    for part, _ in ctx.parts:
        if mime.content_type(part) in _FEEDBACK_TYPES:
            report_text = mime.part_text(part)
            break
    if report_text is None:
        return None
    fields = [f for block in parse_fields(report_text) for f in block]
    rcpts = [a for name, value in fields if name == "original-rcpt-to" and (a := address_of(value))]
    if not rcpts and ctx.returned is not None:
        rcpts = all_addresses(mime.header(ctx.returned, "to") or "")
    if not rcpts:
        # Some reporters redact the recipient; keep the report but say whom it concerns when we can.
        rcpts = []
    first_line = next((line.strip() for line in ctx.body_text.splitlines() if line.strip()), None)
    values = dict(reversed(fields))
    return Finding(
        kind=ReportKind.ARF,
        recipients=[_complaint(a, first_line) for a in dict.fromkeys(rcpts)],
        envelope_id=values.get("original-envelope-id"),
        reporting_mta=values.get("reporting-mta"),
        reporting_ua=values.get("user-agent"),
        arrival_date=values.get("arrival-date") or values.get("received-date"),
    )
