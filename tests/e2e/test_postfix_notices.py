"""Real Postfix notices as a sending MTA: a private Postfix relays one message to a scripted remote server on loopback.

The scenario decides the expected results. The remote refuses unknown@ for good at RCPT (550 5.1.1), and keeps
answering "mailbox full" (452 4.2.2) to full@ and greylisting (450 4.7.1) slow@. Postfix bounces unknown@ at once;
it warns after delay_warning_time that full@ and slow@ are still being retried (both delayed), and when
maximal_queue_lifetime ends it returns the message for both (both failed, with the last temporary reply's code:
Postfix gave up, whatever the first digit says). What Postfix sends back to our VERP address goes to a sink;
which notice is which comes from Postfix's own headers and status fields read with the standard library, never
from the parser under test. The notices are also kept as tests/data/lhost/postfix-real-*.eml (regenerate:
MAILD_KEEP_POSTFIX_NOTICES=1) so the parser's own tests read them where Postfix cannot run.
"""

from __future__ import annotations

import email
import shutil
import smtplib
import time
from collections.abc import Iterator
from email.message import Message

import pytest

from maild.reports import ReportKind, parse
from tests.e2e.notices import SENDER, TOKEN, keep, rows, skip_if_missing
from tests.servers.exim import _BoundController, _Remote
from tests.servers.postfix import PrivatePostfix, Sink, free_port, new_dir, postfix_available

MESSAGE_ID = "<reply-45@helpdesk.example.com>"
RECIPIENTS = ["unknown@remote.test", "full@remote.test", "slow@remote.test"]
MESSAGE = (
    f"From: Support <support@helpdesk.example.com>\r\nTo: {', '.join(RECIPIENTS)}\r\nSubject: [#1234] Your invoice\r\n"
    f"Message-ID: {MESSAGE_ID}\r\nDate: Mon, 02 Dec 2024 09:00:00 +0000\r\n\r\nHello.\r\n"
)
REPLIES = {
    "unknown@remote.test": "550 5.1.1 <unknown@remote.test>: Recipient address rejected: User unknown in local recipient table",
    "full@remote.test": "452 4.2.2 <full@remote.test>: Mailbox full",
    "slow@remote.test": "450 4.7.1 <slow@remote.test>: Recipient address rejected: Greylisted, please try again later",
}
# Postfix's clock for the scenario: a warning after 1 s, the message returned after 8 s (retries every 1-2 s).
TIMES = "delay_warning_time = 1s\nmaximal_queue_lifetime = 8s\nbounce_queue_lifetime = 8s\n"

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def _failed_recipients(msg: Message) -> list[str]:
    """The Final-Recipient addresses of a DSN's status part, read with the standard library."""
    for part in msg.walk():
        if part.get_content_type() == "message/delivery-status":
            groups = part.get_payload()
            assert isinstance(groups, list)
            return sorted(str(g["final-recipient"]).split(";", 1)[1].strip() for g in groups if g["final-recipient"])
    return []


def _kind(raw: bytes) -> str:
    msg = email.message_from_bytes(raw)
    if str(msg["subject"]).startswith("Delayed Mail"):
        return "warning"
    return "refused" if _failed_recipients(msg) == ["unknown@remote.test"] else "gave-up"


@pytest.fixture(scope="module")
def notices() -> Iterator[dict[str, bytes]]:
    skip_if_missing(postfix_available())
    remote = _BoundController(_Remote(REPLIES.get))
    sink = Sink()
    folder = new_dir()
    transport = f"remote.test smtp:[127.0.0.1]:{remote.port}\nhelpdesk.example.com smtp:[127.0.0.1]:{sink.port}\n"
    postfix = PrivatePostfix(folder, free_port(), main_extra=(
        f"transport_maps = texthash:{folder}/etc/transport\nrelay_domains = remote.test\nsmtp_tls_security_level = none\n" + TIMES
    ), maps={"transport": transport})
    remote.start()
    sink.start()
    try:
        postfix.write()
        postfix.start()
        with smtplib.SMTP("127.0.0.1", postfix.port, timeout=30) as client:
            client.ehlo("helpdesk.example.com")
            client.sendmail(SENDER, RECIPIENTS, MESSAGE, mail_options=["RET=HDRS", f"ENVID={TOKEN}"],
                            rcpt_options=["NOTIFY=FAILURE,DELAY"])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(sink.sink.got) < 3:
            time.sleep(0.1)  # the scenario's own clock (8 s of retries), polled
        got = [g.data for g in sink.sink.got]
        assert len(got) == 3, postfix.log()
        assert all(g.mail_from in ("", "<>") and g.rcpt_tos == (SENDER,) for g in sink.sink.got)  # null sender, our VERP address
    finally:
        postfix.stop()
        shutil.rmtree(folder, ignore_errors=True)
        remote.stop()
        sink.stop()
    by_kind = {_kind(raw): raw for raw in got}
    assert sorted(by_kind) == ["gave-up", "refused", "warning"]
    keep({f"postfix-real-{kind}": raw for kind, raw in by_kind.items()}, "MAILD_KEEP_POSTFIX_NOTICES")
    yield by_kind


def test_refused_address_bounces_at_once_hard(notices: dict[str, bytes]) -> None:
    report = parse(notices["refused"])
    assert report.kind is ReportKind.DSN
    assert rows(report) == [("unknown@remote.test", "failed", "5.1.1", "userunknown", True)]
    assert (report.token, report.original_message_id) == (TOKEN, MESSAGE_ID)


def test_the_warning_is_a_delay_for_both_never_hard(notices: dict[str, bytes]) -> None:
    report = parse(notices["warning"])
    assert sorted((r.address, r.action, r.status, r.hard) for r in report.recipients) == [
        ("full@remote.test", "delayed", "4.2.2", False),
        ("slow@remote.test", "delayed", "4.7.1", False),
    ]
    # Greylisting says nothing about the address, though Postfix's reply starts "Recipient address rejected:".
    assert {r.address: str(r.reason) for r in report.recipients}["slow@remote.test"] != "userunknown"
    assert report.token == TOKEN


def test_giving_up_fails_both_softly_with_the_last_replies_codes(notices: dict[str, bytes]) -> None:
    report = parse(notices["gave-up"])
    got = sorted((r.address, r.action, r.status, r.hard) for r in report.recipients)
    assert got == [("full@remote.test", "failed", "4.2.2", False), ("slow@remote.test", "failed", "4.7.1", False)]
    # The full mailbox is what failed; the greylisting reply names no cause of its own, so the message expired.
    assert {r.address: str(r.reason) for r in report.recipients} == {"full@remote.test": "mailboxfull", "slow@remote.test": "expired"}
    assert report.token == TOKEN
