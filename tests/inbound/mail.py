"""Customers' answers as mail clients write them (RFC 5322 replies with In-Reply-To and References), built with Python's email package."""

from __future__ import annotations

import secrets
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from tests.receipts.conftest import T0


def answer(
    author: str,
    in_reply_to: str | None,
    *,
    references: tuple[str, ...] = (),
    to: str = "support@helpdesk.example.com",
    subject: str = "Re: [#1234] hello",
    sender: str | None = None,
    reply_to: str | None = None,
    message_id: str | None = None,
    date: str | None = None,
    headers: dict[str, str] | None = None,
    body: str = "Thanks, that worked.\n\n> hi\n",
) -> bytes:
    msg = EmailMessage()
    msg["From"] = author
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = date or format_datetime(T0.replace(minute=30))
    msg["Message-ID"] = message_id or make_msgid(idstring=secrets.token_hex(4), domain="client.example.net")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references or in_reply_to:
        msg["References"] = " ".join(references or (in_reply_to or "",))
    if sender:
        msg["Sender"] = sender
    if reply_to:
        msg["Reply-To"] = reply_to
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    return bytes(msg).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def out_of_office(author: str, in_reply_to: str) -> bytes:
    """A vacation responder's answer as RFC 3834 and RFC 5230 (Sieve vacation) have it: Auto-Submitted: auto-replied."""
    return answer(author, in_reply_to, subject="Out of office: [#1234] hello",
                  headers={"Auto-Submitted": "auto-replied (vacation)"},
                  body="I am out of the office until Monday.\n")


def outlook_automatic_reply(author: str, in_reply_to: str) -> bytes:
    """Exchange's automatic reply marks: Auto-Submitted auto-generated and X-Auto-Response-Suppress."""
    return answer(author, in_reply_to, subject="Automatic reply: [#1234] hello",
                  headers={"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"},
                  body="I am away.\n")
