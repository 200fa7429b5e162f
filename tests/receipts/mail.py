"""Builders of real report messages (DSN, MDN, bounce, spam) as raw bytes, addressed the way maild's copies are."""

from __future__ import annotations

import secrets
from datetime import datetime
from email.utils import format_datetime

DOMAIN = "helpdesk.example.com"


def verp(token: str | None) -> str:
    return f"receipts+{token}@{DOMAIN}" if token else f"receipts@{DOMAIN}"


def _crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode()


def dsn(
    token: str | None, recipient: str, *, action: str = "failed", status: str = "5.1.1",
    original_message_id: str = "<m1@helpdesk.example.com>", diagnostic: str | None = None,
    date: datetime | None = None, envid: bool = True, mta: str = "mx.example.net", unique: str | None = None,
) -> bytes:
    diag = diagnostic or (f"smtp; 550 5.1.1 <{recipient}>: Recipient address rejected: User unknown"
                          if action == "failed" else "smtp; 250 2.0.0 Ok")
    boundary = "B-" + secrets.token_hex(6)
    when = format_datetime(date) if date else "Sun, 01 Mar 2026 12:30:00 +0000"
    envid_line = f"Original-Envelope-Id: {token}\n" if token and envid else ""
    # Postfix's own wording for each kind of report (bounce_template.c): the subject and the warning line agree
    # with the Action field, as in every real Postfix DSN.
    subject = {"delayed": "Delayed Mail (still being retried)", "delivered": "Successful Mail Delivery Report",
               "relayed": "Successful Mail Delivery Report"}.get(action, "Undelivered Mail Returned to Sender")
    warning = ("\n\n####### THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #######\n"
               if action == "delayed" else "")
    return _crlf(f"""Return-Path: <>
From: MAILER-DAEMON@{mta} (Mail Delivery System)
To: {verp(token)}
Subject: {subject}
Date: {when}
Message-ID: <{unique or secrets.token_hex(8)}@{mta}>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"

--{boundary}
Content-Type: text/plain

This is the mail system at host {mta}.{warning} Delivery to {recipient}: {action}.

--{boundary}
Content-Type: message/delivery-status

Reporting-MTA: dns; {mta}
{envid_line}Arrival-Date: {when}

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822; {recipient}
Action: {action}
Status: {status}
Remote-MTA: dns; {mta}
Diagnostic-Code: {diag}
Last-Attempt-Date: {when}

--{boundary}
Content-Type: text/rfc822-headers

Return-Path: <{verp(token)}>
From: agent@{DOMAIN}
To: {recipient}
Subject: [#1234] hello
Message-ID: {original_message_id}

--{boundary}--
""")


def mdn(
    token: str | None, recipient: str, *, disposition: str = "displayed",
    original_message_id: str = "<m1@helpdesk.example.com>", date: datetime | None = None, unique: str | None = None,
) -> bytes:
    boundary = "M-" + secrets.token_hex(6)
    when = format_datetime(date) if date else "Sun, 01 Mar 2026 12:40:00 +0000"
    return _crlf(f"""From: {recipient}
To: {verp(token)}
Subject: Read: [#1234] hello
Date: {when}
Message-ID: <{unique or secrets.token_hex(8)}@example.net>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=disposition-notification; boundary="{boundary}"

--{boundary}
Content-Type: text/plain

Your message was {disposition}.

--{boundary}
Content-Type: message/disposition-notification

Reporting-UA: example.net; Thunderbird 115
Original-Recipient: rfc822;{recipient}
Final-Recipient: rfc822;{recipient}
Original-Message-ID: {original_message_id}
Disposition: manual-action/MDN-sent-manually; {disposition}

--{boundary}--
""")


def spam() -> bytes:
    return _crlf(f"""From: someone@spam.example
To: receipts@{DOMAIN}
Subject: cheap watches {secrets.token_hex(4)}
Message-ID: <{secrets.token_hex(8)}@spam.example>

Buy now.
""")
