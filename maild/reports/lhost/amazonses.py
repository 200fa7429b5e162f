"""Amazon SES bounces: its email feedback (a DSN whose Diagnostic-Code wraps the remote's reply in SES's words) and its JSON notifications.

SES forwards bounces by email from MAILER-DAEMON@...amazonses.com with an X-SES-Outgoing (older: X-AWS-Outgoing)
header: "An error occurred while trying to deliver the mail to the following recipients:" (or "The following
message to <address> was undeliverable."), and a message/delivery-status part whose Diagnostic-Code is SES's own
summary around the remote server's reply: "smtp; 5.1.0 - Unknown address error 550-'5.7.1 <...>... Access denied'
(delivery attempts: 0)". SES's words ("Unknown address error") name only its category; the quoted reply names
the reason, and its code replaces SES's summary code. "Delivery expired" is SES giving up on retries.

Through SNS the same events arrive as JSON (From no-reply@sns.amazonaws.com, "AWS Notification Message"):
``maild.reports.ses`` reads those, and stays a detector of its own for JSON that arrives with other headers.
Amazon WorkMail, which shares the headers, writes another format and is left to the generic readers.
"""

from __future__ import annotations

import re

from maild.core.frozen import replace
from maild.core.lazyre import lazy
from maild.core.reason_rules import reason_for, smtp_command
from maild.core.reasons import Reason
from maild.reports.context import Context, Finding
from maild.reports.dsn import status_of
from maild.reports.lhost import blocks
from maild.reports.model import RecipientResult

NAME = "amazonses"
_SES_HEADERS = ("x-ses-outgoing", "x-aws-outgoing", "x-amz-sns-message-type", "x-amz-sns-topic-arn")
# "5.1.0 - Unknown address error 550-'5.7.1 <a@b>... Access denied' (delivery attempts: 0)"
_WRAPPED = lazy(r"^\s*[245]\.\d{1,3}\.\d{1,3}\s+-\s+[^'\"]*?\b([245]\d\d)[ -]['\"](.+)['\"]", re.S)
_EXPIRED = lazy(r"\bdelivery expired\b", re.I)


def matches(ctx: Context) -> bool:
    if any(name in ctx.top for name in _SES_HEADERS):
        return "amazon workmail" not in (ctx.header("x-mailer") or "").lower()
    sender = ctx.sender.lower()
    return "amazonses.com" in sender or "sns.amazonaws.com" in sender


def parse(ctx: Context) -> Finding | None:
    if "notificationType" in ctx.body_text[:20000]:
        from maild.reports import ses  # the JSON reader, loaded only for SES's JSON

        return ses.detect(ctx)
    finding = blocks.from_status_part(ctx, None)
    if finding is None:
        return None
    finding.recipients = [_unwrapped(r) for r in finding.recipients]
    return finding


def _unwrapped(r: RecipientResult) -> RecipientResult:
    """The remote's reply out of SES's wrapping decides the code and the reason; SES's category words do not."""
    if r.action not in ("failed", "delayed") or not r.diagnostic:
        return r
    if _EXPIRED.search(r.diagnostic):
        return replace(r, reason=Reason.EXPIRED, hard=False)
    wrapped = _WRAPPED.match(r.diagnostic)
    if wrapped is None:
        return r
    reply = f"{wrapped.group(1)} {wrapped.group(2)}"
    status = status_of(wrapped.group(2)) or r.status
    reason, hard = reason_for(status, reply, command=smtp_command(reply))
    return replace(r, status=status, reason=reason, hard=hard and r.action == "failed")
