"""Exchange and Office 365 non-delivery reports: "Undeliverable:" / "Delivery delayed:", the remote's reply quoted as "returned '...'".

Exchange writes "Delivery has failed to these recipients or groups:" (or "Delivery is delayed to these
recipients or groups:" with "This is only a notification"), then "Diagnostic information for
administrators:" where each hop is "Remote Server returned '550 5.1.1 RESOLVER.ADR.RecipNotFound'". The
RFC 3464 part often carries only the queue's summary (4.4.7 "message expired"); the last quoted reply from
a remote server says what went wrong, and its code is reported when it is more precise.
"""

from __future__ import annotations

import re

from maild.core.frozen import replace
from maild.core.lazyre import lazy
from maild.reports import retrying
from maild.reports.context import Context, Finding
from maild.reports.dsn import remote_status
from maild.reports.lhost import blocks

NAME = "exchange"
_SUBJECT = lazy(r"^\s*(?:undeliverable|delivery delayed|unzustellbar|non remis|no se puede entregar|non recapitabile|onbestelbaar)\s*:", re.I)
_SENDER = lazy(r"postmaster@|microsoftexchange|mailer-daemon@", re.I)
_DELAYED = lazy(r"delivery is delayed to these recipients|this is only a notification|delivery delayed|still trying|will continue trying", re.I)
_FAILED = lazy(r"delivery has failed to these recipients|your message (?:to .{0,200} )?couldn't be delivered|wasn't delivered|could not be delivered", re.I)
_RETURNED = lazy(r"returned\s+'(\d{3}[ -]\d\.\d{1,3}\.\d{1,3})", re.I)


def matches(ctx: Context) -> bool:
    return bool(_SUBJECT.match(ctx.subject)) and (bool(_SENDER.search(ctx.sender)) or any(n.startswith("x-ms-exchange") for n in ctx.top))


def parse(ctx: Context) -> Finding | None:
    text = ctx.body_text[:60000]
    head = text[:5000]
    delayed = _DELAYED.found_in(head) or ctx.subject.lower().lstrip().startswith("delivery delayed")
    failed = _FAILED.found_in(head)
    if delayed and not failed:
        retry = retrying.Retry.KEEPS_TRYING
    elif failed or not delayed:
        retry = retrying.Retry.GAVE_UP
    else:
        retry = None
    finding = blocks.from_status_part(ctx, retry) or blocks.from_generic_text(ctx, retry)
    if finding is None:
        return None
    quoted = " ".join(_RETURNED.findall(text))
    if quoted:
        finding.recipients = [replace(r, status=remote_status(r.status, quoted)) if r.status else r for r in finding.recipients]
    return finding
