"""Exim's bounces and delay warnings (deliver.c and its default warning message): indented addresses, their reasons below.

A bounce says "could not be delivered to one or more of its recipients. This is a permanent error. The
following address(es) failed:" and a warning "has not yet been delivered to one or more of its recipients
after more than N on the queue"; then each address indented two spaces with its reason lines indented
further ("SMTP error from remote mail server after RCPT TO:<a>: 550 5.1.1 ...", "retry timeout exceeded",
"all hosts have been failing for a long time"), and "------ This is a copy of the message".
"""

from __future__ import annotations

import re

from maild.core.lazyre import lazy
from maild.core.syntax import ADDRESS_PATTERN
from maild.reports import retrying
from maild.reports.context import Context, Finding
from maild.reports.lhost import blocks
from maild.reports.model import ReportKind

NAME = "exim"
_SUBJECT = lazy(r"^\s*(?:mail delivery failed|warning: message \S+ delayed)", re.I)
_FAILED = lazy(r"could not be delivered to one or more of its\s+recipients|the following address(?:\(es\))? failed", re.I)
_DELAYED = lazy(r"has not yet been delivered to one or more of its\s+recipients", re.I)
_LIST = lazy(r"following address(?:\(es\))? failed:|address(?:es)? to which the message has not yet been delivered (?:is|are):", re.I)
_MARKER = lazy(r"^-{3,} ?(?:this is a copy of the message|the body of the message is|this is a copy of the message's headers)", re.I | re.M)
_ADDRESS = lazy(rf"^ {{1,3}}(?:<)?({ADDRESS_PATTERN})(?:>)?(?::)?[ \t]*(?:\(.*\))?[ \t]*$", re.M)


def matches(ctx: Context) -> bool:
    return bool(ctx.header("x-failed-recipients")) or (bool(_SUBJECT.match(ctx.subject)) and "mailer-daemon" in ctx.sender.lower())


def parse(ctx: Context) -> Finding | None:
    text = ctx.body_text[:60000]
    head = text[:4000]
    if _DELAYED.found_in(head):
        retry: retrying.Retry | None = retrying.Retry.KEEPS_TRYING
    elif _FAILED.found_in(head):
        # "This is a permanent error" is the template's; the reason lines decide when they quote a retry.
        retry = retrying.Retry.GAVE_UP
    else:
        return None
    with_fields = blocks.from_status_part(ctx, retry)
    if with_fields is not None:
        return with_fields
    listing = _LIST.search(text)
    if listing is None:
        return None
    body = blocks.before(text[listing.end():], _MARKER)
    pairs = blocks.by_address(body, _ADDRESS, with_address_line=True)
    return Finding(kind=ReportKind.BOUNCE, recipients=blocks.recipients(pairs, retry))
