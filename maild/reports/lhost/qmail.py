"""qmail's qmail-send bounces (and the providers that kept its format): "<address>:" then the remote's words, per address.

qmail-send writes "Hi. This is the qmail-send program at HOST." then one paragraph per address that starts
"<address>:", and "--- Below this line is a copy of the message." Everything it lists it has given up on:
qmail sends no delay warnings, so a quoted 4.x.x reply ("Giving up on HOST", "I'm not going to try again;
this message has been in the queue too long") is still a failure.
"""

from __future__ import annotations

import re

from maild.core.lazyre import lazy
from maild.core.syntax import ADDRESS_PATTERN
from maild.reports.context import Context, Finding
from maild.reports.lhost import blocks

NAME = "qmail"
_SUBJECT = lazy(r"^\s*failure notice\s*$", re.I)
_GREETING = lazy(r"this is the qmail-send program|i'm afraid i wasn't able to deliver your message|"
                       r"sorry, we were unable to deliver your message", re.I)
_MARKER = lazy(r"^--- (?:below this line is a copy of the message|enclosed are the original headers)", re.I | re.M)
_ADDRESS = lazy(rf"^<({ADDRESS_PATTERN})>:[ \t]*$", re.M)


def matches(ctx: Context) -> bool:
    return bool(_SUBJECT.match(ctx.subject)) and "mailer-daemon" in ctx.sender.lower()


def parse(ctx: Context) -> Finding | None:
    return blocks.qmail_layout(ctx, _GREETING, _MARKER, _ADDRESS)
