"""Sendmail's returned mail and delay warnings (savemail.c): addresses under "permanent fatal errors", the session transcript below.

A failure lists "----- The following addresses had permanent fatal errors -----" then "<address>" with a
"(reason: 550 5.1.1 ...)" line; a warning opens with "THIS IS A WARNING MESSAGE ONLY" / "YOU DO NOT NEED TO
RESEND YOUR MESSAGE" and says "Will keep trying until message is 5 days old". The "----- Transcript of
session follows -----" quotes the remote's reply per address ("<<< 550 5.7.1 ..."), which is where the
precise code is. Most Sendmails add an RFC 3464 part; it is read as usual and the words set the action.
"""

from __future__ import annotations

import re

from maild.core.lazyre import lazy
from maild.reports import retrying
from maild.reports.context import Context, Finding
from maild.reports.lhost import blocks

NAME = "sendmail"
_SUBJECT = lazy(r"^\s*(?:returned mail\s*:|warning: could not send message for past)", re.I)
_WARNING = lazy(r"this is a warning message only|you do not need to resend your message|will keep trying until", re.I)
_FATAL = lazy(r"-{3,}\s*the following address(?:es)? had permanent fatal errors\s*-{3,}", re.I)


def matches(ctx: Context) -> bool:
    return bool(_SUBJECT.match(ctx.subject)) and "mailer-daemon" in ctx.sender.lower()


def parse(ctx: Context) -> Finding | None:
    text = ctx.body_text[:60000]
    head = text[:4000]
    if _WARNING.found_in(head):
        retry = retrying.Retry.KEEPS_TRYING
    elif _FATAL.found_in(text):
        retry = retrying.Retry.GAVE_UP
    else:
        return None
    # Their per-recipient text varies across versions more than the generic reader's patterns do.
    return blocks.from_status_part(ctx, retry) or blocks.from_generic_text(ctx, retry)

