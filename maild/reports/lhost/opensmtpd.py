"""OpenSMTPD's bounces and delay warnings (smtpd/bounce.c): "address: reply" lines under a sentence saying error or delay.

The notice says "An error has occurred while attempting to deliver a message for the following list of
recipients:" (failed) or "A message is delayed for more than N for the following list of recipients:" with
"Please note that this is only a temporary failure report." (delayed), then one "address: reply" line per
recipient and "Below is a copy of the original message:". Newer versions add a message/delivery-status
part whose Status is only a summary (5.0.0); the reply on the line carries the real code.

When the queue lifetime ends, OpenSMTPD 6.8 drops the envelope ("Envelope expired") but words the notice
with its delay template ("delayed", "Action: delayed", 4.4.7): a recipient whose line says "Envelope expired"
failed, expired, whatever the template says (seen running Debian's opensmtpd 6.8.0p2, tests/e2e).
"""

from __future__ import annotations

import re

from maild.core.frozen import replace
from maild.core.lazyre import lazy
from maild.core.reasons import Reason
from maild.core.syntax import ADDRESS_PATTERN
from maild.reports import retrying
from maild.reports.context import Context, Finding
from maild.reports.lhost import blocks
from maild.reports.model import ReportKind

NAME = "opensmtpd"
_SUBJECT = lazy(r"^\s*delivery status notification\s*:", re.I)
_FAILED = lazy(r"an error has occurred while attempting to deliver a message", re.I)
_DELAYED = lazy(r"a message is delayed for more than|only a temporary failure report", re.I)
_MARKER = lazy(r"^[ \t]*below is a copy of the original message", re.I | re.M)
_LINE = lazy(rf"^({ADDRESS_PATTERN}):[ \t]+(\S.*)$", re.M)
_EXPIRED = lazy(r"envelope expired\b", re.I)


def matches(ctx: Context) -> bool:
    return bool(_SUBJECT.match(ctx.subject)) and "mailer-daemon" in ctx.sender.lower()


def parse(ctx: Context) -> Finding | None:
    text = ctx.body_text[:60000]
    head = text[:3000]
    if _DELAYED.found_in(head):
        retry = retrying.Retry.KEEPS_TRYING
    elif _FAILED.found_in(head):
        retry = retrying.Retry.GAVE_UP
    else:
        return None
    body = blocks.before(text, _MARKER)
    pairs = [(m.group(1), m.group(2)) for m in _LINE.finditer(body)]
    finding = blocks.from_status_part(ctx, retry) or Finding(kind=ReportKind.BOUNCE, recipients=blocks.recipients(pairs, retry))
    expired = {address.lower() for address, said in pairs if _EXPIRED.match(said)}
    finding.recipients = [
        replace(r, action="failed", reason=Reason.EXPIRED, hard=False) if r.address and r.address.lower() in expired else r
        for r in finding.recipients
    ]
    return finding
