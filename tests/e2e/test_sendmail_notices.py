"""Real Sendmail notices: a private Sendmail (Debian's packages, unpacked) relays to a scripted remote server on loopback.

The scenario decides the expected results: the remote refuses one address for good (550 5.1.1), accepts
another (so, not offering DSN itself, Sendmail reports it "relayed" as NOTIFY=SUCCESS asked), and keeps
answering "mailbox full" (452 4.2.2) to a third: a queue run with a 1 s warning time makes Sendmail warn
that it keeps trying, and one with a 2 s return time makes it give up. The short times are given to those
runs only: Sendmail folds a warning that is due into the notice it sends for the refused address, so a
first run that took longer than the warning time (a loaded machine) would send one notice instead of two. Sendmail's own Status for the warning
is its mapping of the reply code (4.3.1) and for the give-up its summary (4.4.7); the remote said 4.2.2.
The notices are kept in tests/data/lhost/sendmail-real-*.eml (regenerate: MAILD_KEEP_SENDMAIL_NOTICES=1)
so the parser's own tests read real Sendmail output where Sendmail is absent.
"""

from __future__ import annotations

import email
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from maild.reports import ReportKind, parse
from tests.e2e.notices import SENDER, TOKEN, keep, rows, scratch, skip_if_missing
from tests.servers.sendmail import Sendmail, sendmail_available

MESSAGE_ID = "<reply-42@helpdesk.example.com>"
RECIPIENTS = ["unknown@remote.test", "ok@remote.test", "full@remote.test"]
MESSAGE = (
    f"From: Support <support@helpdesk.example.com>\nTo: {', '.join(RECIPIENTS)}\n"
    f"Subject: [#1234] Your invoice\nMessage-ID: {MESSAGE_ID}\nDate: Mon, 02 Dec 2024 09:00:00 +0000\n\nHello.\n"
).encode()
REPLIES = {
    "unknown@remote.test": "550 5.1.1 <unknown@remote.test>... User unknown",
    "full@remote.test": "452 4.2.2 <full@remote.test>... Mailbox full",
}

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def notices() -> Iterator[dict[str, bytes]]:
    skip_if_missing(sendmail_available())
    with scratch("maild-sendmail-") as folder:
        yield _run_scenario(folder / "mta")


def _run_scenario(folder: Path) -> dict[str, bytes]:
    with Sendmail(folder, REPLIES.get) as sendmail:
        sendmail.send(SENDER, RECIPIENTS, MESSAGE, envid=TOKEN)
        log = sendmail.queue_run()
        assert len(sendmail.wait_for(1)) == 1, log
        # The scenario's clock, not a synchronisation: past a 1 s warning time, then past a 2 s return time.
        time.sleep(2.0)
        log = sendmail.queue_run("Timeout.queuewarn=1s")
        assert len(sendmail.wait_for(2)) == 2, log
        time.sleep(1.0)
        log = sendmail.queue_run("Timeout.queuereturn=2s")
        got = sendmail.wait_for(3)
        assert len(got) == 3, log
    # Which notice is which, from Sendmail's own headers (never from the parser under test).
    by_kind: dict[str, bytes] = {}
    for raw in got:
        msg = email.message_from_bytes(raw)
        auto = str(msg.get("auto-submitted", ""))
        kind = "warning" if "warning" in auto else "returned" if b"unknown@remote.test" in raw.split(b"text/rfc822-headers")[0] else "gave-up"
        by_kind[kind] = raw
    assert sorted(by_kind) == ["gave-up", "returned", "warning"]
    keep({f"sendmail-real-{kind}": raw for kind, raw in by_kind.items()}, "MAILD_KEEP_SENDMAIL_NOTICES")
    return by_kind


def test_refused_address_bounces_hard_and_the_relayed_one_is_reported_relayed(notices: dict[str, bytes]) -> None:
    report = parse(notices["returned"])
    assert report.kind is ReportKind.DSN
    got = [(r.address, r.action, r.status if r.action == "failed" else None, str(r.reason) if r.reason else None, r.hard)
           for r in report.recipients]
    assert got == [("unknown@remote.test", "failed", "5.1.1", "userunknown", True), ("ok@remote.test", "relayed", None, None, None)]
    assert (report.token, report.original_message_id, report.envelope_id) == (TOKEN, MESSAGE_ID, TOKEN)


def test_warning_is_a_delay_with_the_remotes_code_not_sendmails_mapping(notices: dict[str, bytes]) -> None:
    report = parse(notices["warning"])
    assert rows(report) == [("full@remote.test", "delayed", "4.2.2", "mailboxfull", False)]
    assert report.token == TOKEN


def test_giving_up_is_a_soft_failure_with_the_remotes_code_not_the_summary(notices: dict[str, bytes]) -> None:
    report = parse(notices["gave-up"])
    assert rows(report) == [("full@remote.test", "failed", "4.2.2", "mailboxfull", False)]
    assert report.token == TOKEN
