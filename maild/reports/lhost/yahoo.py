"""Yahoo Mail's failure notices: qmail's layout, with "Remote host said:" before the reply and the SMTP command in brackets.

Yahoo writes Subject "Failure Notice" from MAILER-DAEMON@yahoo.com (its headers carry X-YMailISG or
X-YMail-OSG), "Sorry, we were unable to deliver your message to the following address.", then per recipient
"<address>:" and "Remote host said: 550 5.1.1 <address>... User Unknown [RCPT_TO]" (the reply may also start
on the next line, and the bracketed command stand on a line of its own), and "--- Below this line is a copy
of the message.". The bracket names the command the reply answered ([RCPT_TO], [MAIL_FROM], [DATA]), which
decides between a bad address and a filter. Yahoo sends this notice only once it has given up.
"""

from __future__ import annotations

import re

from maild.core.lazyre import lazy
from maild.core.syntax import ADDRESS_PATTERN
from maild.reports.context import Context, Finding
from maild.reports.lhost import blocks

NAME = "yahoo"
_SUBJECT = lazy(r"^\s*failure notice\s*$", re.I)
_GREETING = lazy(r"sorry, we were unable to deliver your message to the following address", re.I)
_MARKER = lazy(r"^--- below this line is a copy of the message", re.I | re.M)
_ADDRESS = lazy(rf"^<({ADDRESS_PATTERN})>:[ \t]*$", re.M)


def matches(ctx: Context) -> bool:
    if not _SUBJECT.match(ctx.subject):
        return False
    return "x-ymailisg" in ctx.top or "x-ymail-osg" in ctx.top or "@yahoo" in ctx.sender.lower()


def parse(ctx: Context) -> Finding | None:
    return blocks.qmail_layout(ctx, _GREETING, _MARKER, _ADDRESS)
