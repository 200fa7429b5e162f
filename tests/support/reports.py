"""A small delivery report that tests feed through the parser's process boundaries (forked child, `maild ingest`)."""

from __future__ import annotations

# RFC 3464's shape: a human-readable part, then the machine-readable delivery-status part.
DSN = (
    b"From: MAILER-DAEMON@mx.example.net\r\nTo: receipts@helpdesk.example.com\r\nSubject: Undelivered Mail\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n"
    b"--b\r\nContent-Type: text/plain\r\n\r\n<a@example.net>: host said: 550 5.1.1 user unknown\r\n"
    b"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\n"
    b"Final-Recipient: rfc822; a@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n"
    b"Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n--b--\r\n"
)
