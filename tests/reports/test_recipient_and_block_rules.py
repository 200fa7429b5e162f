"""Which address a DSN reports, and blocks on us never read as a bad address even under a 5.1.1."""

from __future__ import annotations

from pathlib import Path

import pytest

from maild.core.reason_rules import reason_for
from maild.reports import parse
from maild.reports.dsn import recipient_from_fields

DATA = Path(__file__).resolve().parents[1] / "data" / "lhost"


@pytest.mark.parametrize(
    ("final", "original", "expected"),
    [
        # The site forwarded to its own mailbox host: the sender wrote the original.
        ("rfc822;HAASM@yogi.urz.unibas.ch", "rfc822;max.haas@unibas.ch", "max.haas@unibas.ch"),
        # An alias to another domain, or the same mailbox: Final-Recipient is where delivery failed.
        ("rfc822;neko@libsisimai.org", "rfc822;azuma@mac.example.com", "neko@libsisimai.org"),
        ("rfc822;a@example.jp", "rfc822;a@cat.example.jp", "a@example.jp"),
        ("rfc822;a@example.org", None, "a@example.org"),
    ],
)
def test_dsn_recipient_is_the_original_only_for_an_internal_forward(final: str, original: str | None, expected: str) -> None:
    fields = {"final-recipient": final, "action": "failed", "status": "5.1.1"}
    if original:
        fields["original-recipient"] = original
    assert recipient_from_fields(fields).address == expected


@pytest.mark.parametrize(
    ("final", "reporting_host", "expected"),
    [
        # Postfix on a host whose $myhostname has no dot (bounce_notify_util.c: "Reporting-MTA: dns; %s" with
        # var_myhostname, Final-Recipient the expanded address at that name): a mailbox of the reporting host.
        ("rfc822; support@relay0", "relay0", "support@relay0"),
        ("rfc822; support@relay0", "relay0.example.com", "support@relay0"),
        # A dotless name that is not the reporting host (Sun Messaging Server's internal channel): the
        # Original-Recipient is the address the sender used.
        ("rfc822;JimmyMcEgypt@sims-ms-daemon", "msg00.seamail.example.com", "help@customer.example.org"),
        ("rfc822; support@relay0", "", "help@customer.example.org"),
    ],
)
def test_a_dotless_final_recipient_is_kept_only_at_the_reporting_host(final: str, reporting_host: str, expected: str) -> None:
    fields = {"final-recipient": final, "original-recipient": "rfc822;help@customer.example.org", "action": "failed", "status": "5.2.0"}
    assert recipient_from_fields(fields, "", reporting_host).address == expected


def test_a_postfix_expansion_at_a_dotless_host_reports_the_expanded_mailbox() -> None:
    # Laid out as Postfix's bounce_notify_util.c writes a failure: "<final> (expanded from <original>): reason",
    # Final-Recipient at $myhostname, Original-Recipient the address the helpdesk sent to.
    report = parse((DATA / "postfix-dotless-host-alias.eml").read_bytes())
    assert [(r.address, r.original_recipient, r.action, r.status) for r in report.recipients] == [
        ("support@relay0", "help@customer.example.org", "failed", "5.2.0"),
    ]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("550 5.1.1 Message rejected: SPF check failed for sender domain", "authfailure"),
        ("550 5.1.1 Message rejected: infected with a virus", "virusdetected"),
        ("550 5.1.1 Client host has no PTR record", "requireptr"),
    ],
)
def test_a_block_on_us_under_5_1_1_is_never_a_hard_bad_address(text: str, reason: str) -> None:
    assert reason_for("5.1.1", text.lower()) == (reason, False)


def _notice(body: str, subject: str = "failure notice") -> bytes:
    head = f"From: MAILER-DAEMON@mx.example.org\nTo: receipts@helpdesk.example.com\nSubject: {subject}\n\n"
    return (head + body).encode()


def test_the_returned_headers_pasted_without_a_marker_never_decide_the_reason() -> None:
    # A notice that pastes our message's headers right under the failure line, with no marker line between:
    # their Content-Type and Received lines are about our message, not about why it failed.
    from maild.reports import parse

    raw = _notice(
        "This message was created automatically by mail delivery software.\n"
        "A message that you sent could not be delivered to one or more of its recipients. This is a permanent error.\n\n"
        "ann@remote.example.net Error, Host not reachable.\n\n\n"
        "Received:from mx.helpdesk.example.com by mx.example.org\n    with SMTP id 4711; Mon, 2 Dec 2024 10:00:00 +0000\n"
        "Message-ID:<reply-42@helpdesk.example.com>\nContent-Type:text/plain; charset=\"UTF-8\"\nSubject:Your invoice\n",
        subject="Undelivered Mail Returned to Sender",
    )
    [r] = parse(raw).recipients
    assert (r.address, r.action) == ("ann@remote.example.net", "failed")
    assert r.reason != "contenterror" and "Content-Type" not in (r.diagnostic or "")


def test_a_notice_that_gave_up_after_a_bare_temporary_reply_reads_as_expired() -> None:
    # qmail-send's wording (qmail-send.c): it gave up; the last reply was a 450 that says nothing more precise.
    from maild.reports import parse

    raw = _notice(
        "Hi. This is the qmail-send program at mx.example.org.\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
        "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
        "<ann@remote.example.net>:\n192.0.2.25 does not like recipient.\nRemote host said: 450 Requested action not taken\n\n"
        "--- Below this line is a copy of the message.\n\nSubject: Your invoice\n\nHello.\n"
    )
    [r] = parse(raw).recipients
    assert (r.address, r.action, r.reason) == ("ann@remote.example.net", "failed", "expired")
