"""Real OpenSMTPD notices: a private OpenSMTPD (Debian's package, unpacked, in its own mount namespace) relays to a scripted server.

The scenario decides the expected results: the remote refuses one address for good (550 5.1.1), accepts
another (so OpenSMTPD, whose next hop offers no DSN, reports it "relayed" as NOTIFY=SUCCESS asked), and keeps
answering "mailbox full" (452 4.2.2) to a third until the 6 s queue lifetime ends; OpenSMTPD warns about
it after 2 s and then drops the envelope ("Envelope expired" in its log). OpenSMTPD 6.8 words that
last notice with its delay template ("delayed", "Action: delayed", 4.4.7), but the envelope is gone: the
recipient failed, expired. The notices are kept in tests/data/lhost/opensmtpd-real-*.eml (regenerate:
MAILD_KEEP_OPENSMTPD_NOTICES=1) so the parser's own tests read real OpenSMTPD output where it is absent.
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterator

import pytest

from maild.reports import ReportKind, parse
from tests.e2e.notices import SENDER, TOKEN, keep, rows, scratch, skip_if_missing
from tests.servers.opensmtpd import OpenSMTPD, opensmtpd_available

MESSAGE_ID = "<reply-42@helpdesk.example.com>"
RECIPIENTS = ["unknown@remote.test", "ok@remote.test", "full@remote.test"]
MESSAGE = (
    f"From: Support <support@helpdesk.example.com>\nTo: {', '.join(RECIPIENTS)}\n"
    f"Subject: [#1234] Your invoice\nMessage-ID: {MESSAGE_ID}\nDate: Mon, 02 Dec 2024 09:00:00 +0000\n\nHello.\n"
)
REPLIES = {
    "unknown@remote.test": "550 5.1.1 <unknown@remote.test>: Recipient address rejected: User unknown",
    "full@remote.test": "452 4.2.2 <full@remote.test>: Mailbox full",
}

pytestmark = pytest.mark.integration


def _kind(raw: bytes) -> str:
    """Which notice this is, from OpenSMTPD's own text and fields (never from the parser under test)."""
    if b"Envelope expired" in raw:
        return "expired"
    if b"Action: relayed" in raw:
        return "relayed"
    if b"Final-Recipient: rfc822; unknown@remote.test" in raw:
        return "error"
    return "warning"


@pytest.fixture(scope="module")
def notices() -> Iterator[dict[str, bytes]]:
    skip_if_missing(opensmtpd_available())
    with scratch("maild-opensmtpd-") as folder:
        with OpenSMTPD(folder / "mta", REPLIES.get, ttl="6s", warn="2s") as smtpd:
            with smtplib.SMTP("127.0.0.1", smtpd.port, timeout=30) as client:
                client.ehlo("helpdesk.example.com")
                client.sendmail(SENDER, RECIPIENTS, MESSAGE, mail_options=["RET=HDRS", f"ENVID={TOKEN}"],
                                rcpt_options=["NOTIFY=SUCCESS,FAILURE,DELAY"])
            kinds = {"error", "relayed", "warning", "expired"}
            got = smtpd.wait_until(lambda got: kinds <= {_kind(r) for r in got})
            assert kinds <= {_kind(r) for r in got}, smtpd.log()
        by_kind = {_kind(raw): raw for raw in got}
        keep({f"opensmtpd-real-{kind}": raw for kind, raw in by_kind.items()}, "MAILD_KEEP_OPENSMTPD_NOTICES")
        yield by_kind


def test_refused_address_fails_hard_with_the_remotes_code(notices: dict[str, bytes]) -> None:
    report = parse(notices["error"])
    assert report.kind is ReportKind.DSN
    assert rows(report) == [("unknown@remote.test", "failed", "5.1.1", "userunknown", True)]
    # OpenSMTPD 6.8 does not echo ENVID in its report: the token comes from the returned headers.
    assert (report.token, report.original_message_id) == (TOKEN, MESSAGE_ID)


def test_accepted_address_is_reported_relayed(notices: dict[str, bytes]) -> None:
    report = parse(notices["relayed"])
    assert [(r.address, r.action) for r in report.recipients] == [("ok@remote.test", "relayed")]
    assert report.token == TOKEN


def test_an_expired_envelope_is_a_soft_failure_even_in_the_delay_template(notices: dict[str, bytes]) -> None:
    report = parse(notices["expired"])
    assert [(r.address, r.action, str(r.reason), r.hard) for r in report.recipients] == [
        ("full@remote.test", "failed", "expired", False)
    ]
    assert report.token == TOKEN


def test_the_warning_is_a_delay_with_the_remotes_code(notices: dict[str, bytes]) -> None:
    report = parse(notices["warning"])
    assert rows(report) == [("full@remote.test", "delayed", "4.2.2", "mailboxfull", False)]
