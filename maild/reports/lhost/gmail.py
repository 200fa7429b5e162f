"""Gmail's delivery status notifications: "failed permanently" or "has been delayed ... will be retried", then the technical details.

Gmail writes "Delivery to the following recipient failed permanently:" (or "has been delayed:", with
"Message will be retried for 2 more day(s)"), each recipient indented on its own line, then "Technical
details of permanent failure:" / "... of temporary failure:" quoting the remote's reply. Newer notices
add an RFC 3464 part; it is read as usual and these words set the action.
"""

from __future__ import annotations

import re

from maild.core.lazyre import lazy
from maild.reports import retrying
from maild.reports.context import Context, Finding
from maild.reports.lhost import blocks

NAME = "gmail"
_SENDER = lazy(r"mailer-daemon@(?:googlemail\.com|google\.com|gmail\.com)", re.I)
_SUBJECT = lazy(r"^\s*delivery status notification\s*\((?:failure|delay)\)", re.I)
_DELAYED = lazy(r"has been delayed|will be retried|temporary failure", re.I)
_FAILED = lazy(r"failed permanently|permanent failure|your message wasn't delivered|couldn't be delivered", re.I)
_MARKER = lazy(r"^[ \t]*-{3,}\s*original message\s*-{3,}", re.I | re.M)


def matches(ctx: Context) -> bool:
    return bool(_SENDER.search(ctx.sender)) and bool(_SUBJECT.match(ctx.subject))


def parse(ctx: Context) -> Finding | None:
    text = blocks.before(ctx.body_text[:60000], _MARKER)
    delayed, failed = _DELAYED.found_in(text[:3000]), _FAILED.found_in(text[:3000])
    if delayed and not failed or "(delay)" in ctx.subject.lower():
        retry = retrying.Retry.KEEPS_TRYING
    elif failed:
        retry = retrying.Retry.GAVE_UP
    else:
        return None
    # Its text changed over the years more than the generic reader's patterns did.
    return blocks.from_status_part(ctx, retry) or blocks.from_generic_text(ctx, retry)
