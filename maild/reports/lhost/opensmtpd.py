"""OpenSMTPD's bounces and delay warnings (smtpd/bounce.c): "address: reply" lines under a sentence saying error or delay.

The notice says "An error has occurred while attempting to deliver a message for the following list of
recipients:" (failed) or "A message is delayed for more than N for the following list of recipients:" with
"Please note that this is only a temporary failure report." (delayed), then one "address: reply" line per
recipient and "Below is a copy of the original message:". Newer versions add a message/delivery-status
part whose Status is only a summary (5.0.0); the reply on the line carries the real code.
"""

from __future__ import annotations

import re

from maild.core.syntax import ADDRESS_PATTERN
from maild.reports import retrying
from maild.reports.context import Context, Finding
from maild.reports.lhost import blocks
from maild.reports.model import ReportKind

NAME = "opensmtpd"
_SUBJECT = re.compile(r"^\s*delivery status notification\s*:", re.I)
_FAILED = re.compile(r"an error has occurred while attempting to deliver a message", re.I)
_DELAYED = re.compile(r"a message is delayed for more than|only a temporary failure report", re.I)
_MARKER = re.compile(r"^\s*below is a copy of the original message", re.I | re.M)
_LINE = re.compile(rf"^({ADDRESS_PATTERN}):[ \t]+(\S.*)$", re.M)


def matches(ctx: Context) -> bool:
    return bool(_SUBJECT.match(ctx.subject)) and "mailer-daemon" in ctx.sender.lower()


def parse(ctx: Context) -> Finding | None:
    text = ctx.body_text[:60000]
    head = text[:3000]
    if _DELAYED.search(head):
        retry = retrying.Retry.KEEPS_TRYING
    elif _FAILED.search(head):
        retry = retrying.Retry.GAVE_UP
    else:
        return None
    with_fields = blocks.from_status_part(ctx, retry)
    if with_fields is not None:
        return with_fields
    body = blocks.before(text, _MARKER)
    pairs = [(m.group(1), m.group(2)) for m in _LINE.finditer(body)]
    return Finding(kind=ReportKind.BOUNCE, recipients=blocks.recipients(pairs, retry))
