"""Courier's delivery status notifications (courier/module.dsn): "UNDELIVERABLE MAIL" or "DELAYS IN DELIVERING YOUR MESSAGE", a transcript per recipient.

courierdsn writes From "Courier mail server at HOST" <@>, Subject "NOTICE: mail delivery status." (final) or
"WARNING: delayed mail." (delay), a text part "This is a delivery status notification from HOST, running the
Courier mail server" with, per recipient, "<address>:" then the peer ("     mx.example.net [192.0.2.1]:"),
the command sent (" >>> RCPT TO:<...>"), the reply (" <<< 550 5.1.1 ...") or a connection error
(" *** ..."), and a message/delivery-status part. That part's Status is only Courier's summary (5.0.0 failed,
4.0.0 delayed) and a delay's recipients have no Diagnostic-Code at all: the reply in the transcript carries
the real code and the command it answered. The delay notice says "Additional attempts to deliver your
message will be made"; the final one lists what "cannot be delivered".
"""

from __future__ import annotations

import re

from maild.core.lazyre import lazy
from maild.reports import retrying
from maild.reports.context import Context, Finding
from maild.reports.lhost import blocks

NAME = "courier"
_SUBJECT = lazy(r"^\s*(?:notice: mail delivery status\.|warning: delayed mail\.)\s*$", re.I)
_SENDER = lazy(r"courier mail server at ", re.I)
_BANNER = lazy(r"running the courier mail server", re.I)
_DELAYED = lazy(r"delays in delivering your message|additional attempts to deliver your message will be made", re.I)
_FAILED = lazy(r"undeliverable mail|your message to the following recipients cannot be delivered", re.I)


def matches(ctx: Context) -> bool:
    if _SENDER.search(ctx.sender):
        return True
    msgid = ctx.header("message-id") or ""
    return bool(_SUBJECT.match(ctx.subject)) or msgid.lstrip().lower().startswith("<courier.")


def parse(ctx: Context) -> Finding | None:
    head = ctx.body_text[:6000]
    if not _BANNER.found_in(head):
        return None
    if _DELAYED.found_in(head) and not _FAILED.found_in(head):
        retry = retrying.Retry.KEEPS_TRYING
    elif _FAILED.found_in(head):
        retry = retrying.Retry.GAVE_UP
    else:
        # A return receipt (delivered/relayed only): the RFC 3464 fields say it all.
        retry = None
    return blocks.from_status_part(ctx, retry) or blocks.from_generic_text(ctx, retry)
