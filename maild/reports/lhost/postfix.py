"""Postfix's bounce, delay and success reports (bounce_template.c): "<address>: host ... said: ..." paragraphs, the subject says which.

"Undelivered Mail Returned to Sender" (the recipients failed), "Delayed Mail (still being retried)" with
"THIS IS A WARNING ONLY. YOU DO NOT NEED TO RESEND YOUR MESSAGE." (delayed), "Successful Mail Delivery
Report" and "Mail Delivery Status Report" (delivered or relayed, read from the RFC 3464 part). Each
recipient is a paragraph "<address>: host mx[ip] said: 550 5.1.1 ... (in reply to RCPT TO command)".
"""

from __future__ import annotations

import re

from maild.core.lazyre import lazy
from maild.core.syntax import ADDRESS_PATTERN
from maild.reports import retrying
from maild.reports.context import Context, Finding
from maild.reports.lhost import blocks
from maild.reports.model import ReportKind

NAME = "postfix"
_SUBJECT = lazy(r"^\s*(?:undelivered mail returned to sender|delayed mail \(still being retried\))", re.I)
_WARNING = lazy(r"this is a warning only|you do not need to resend your message|will be retried until", re.I)
_GREETING = lazy(r"this is the mail system at host", re.I)
_PARAGRAPH = lazy(rf"^<({ADDRESS_PATTERN})>(?: \(expanded from <[^<>]+>\))?:[ \t]*(.*(?:\n(?!\s*\n).*)*)", re.M)
_MARKER = lazy(r"^[ \t]*(?:-{3,}|content-description: undelivered message)", re.I | re.M)


def matches(ctx: Context) -> bool:
    return bool(_SUBJECT.match(ctx.subject)) and "mailer-daemon" in ctx.sender.lower()


def parse(ctx: Context) -> Finding | None:
    text = ctx.body_text[:60000]
    if not _GREETING.found_in(text[:3000]):
        return None
    retry = retrying.Retry.KEEPS_TRYING if "delayed mail" in ctx.subject.lower() or _WARNING.found_in(text[:3000]) else retrying.Retry.GAVE_UP
    with_fields = blocks.from_status_part(ctx, retry)
    if with_fields is not None:
        return with_fields
    body = blocks.before(text, _MARKER)
    pairs = [(m.group(1), m.group(2)) for m in _PARAGRAPH.finditer(body)]
    return Finding(kind=ReportKind.BOUNCE, recipients=blocks.recipients(pairs, retry))
