"""Real Exim notices: a private Exim (Debian's package, unpacked) delivers to a scripted remote server on loopback.

The scenario decides the expected results: the remote refuses one address for good (550 5.1.1), keeps
answering "mailbox full" (452 4.2.2) to another until Exim's retry window ends, and keeps deferring a
third (451 4.3.0) whose retry window is long, so Exim only warns. What Exim sends back is parsed; each
notice must say exactly that. Exim counts both the retry window and the warning time from the message's
arrival, in whole seconds: a first delivery that took over a second (a loaded machine) would already give
up on the full mailbox, in the same bounce as the refused address, or warn. So the first delivery runs
with a day for both, and the short times are given to the later queue run only. The notices are also kept in tests/data/lhost/exim-real-*.eml (regenerate:
MAILD_KEEP_EXIM_NOTICES=1) so the parser's own tests read real Exim output where Exim is absent.
"""

from __future__ import annotations

import email
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from maild.reports import ReportKind, parse
from tests.e2e.notices import SENDER, TOKEN, keep, rows, scratch, skip_if_missing
from tests.servers.exim import Exim, exim_available

MESSAGE_ID = "<reply-42@helpdesk.example.com>"
MESSAGE = (
    f"From: Support <support@helpdesk.example.com>\nTo: unknown@remote.test, full@remote.test, slow@delay.test\n"
    f"Subject: [#1234] Your invoice\nMessage-ID: {MESSAGE_ID}\nDate: Mon, 02 Dec 2024 09:00:00 +0000\n\nHello.\n"
).encode()

REPLIES = {
    "unknown@remote.test": "550 5.1.1 <unknown@remote.test>: Recipient address rejected: User unknown in local recipient table",
    "full@remote.test": "452 4.2.2 <full@remote.test>: Mailbox full",
    "slow@delay.test": "451 4.3.0 <slow@delay.test>: Temporary lookup failure, try again later",
}
# Two Exims: one retries for 2 s and then gives up; the other retries for a day and warns after 2 s. Both start
# with a day for each (FIRST): the short times are for their queue run only.
FIRST = ("* * F,1d,1s", "24h")
GIVES_UP = ("* * F,2s,1s", "24h")
KEEPS_TRYING = ("* * F,1d,1s", "2s")

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def notices() -> Iterator[dict[str, bytes]]:
    skip_if_missing(exim_available())
    # Exim's own user must reach its spool: a folder of ours that others may traverse (pytest's are 0700).
    with scratch("maild-exim-", 0o755) as folder:
        yield _run_scenario(folder)


def _run_scenario(folder: Path) -> dict[str, bytes]:
    received: list[bytes] = []
    # at_once: what the first delivery sends back (the refused address's bounce; nothing for a deferral alone)
    for name, (retry, warning), recipients, at_once in (
        ("gives-up", GIVES_UP, ["unknown@remote.test", "full@remote.test"], 1),
        ("keeps-trying", KEEPS_TRYING, ["slow@delay.test"], 0),
    ):
        with Exim(folder / name, REPLIES.get, own_domain="helpdesk.example.com", retry=FIRST[0], delay_warning=FIRST[1]) as exim:
            exim.send(SENDER, recipients, MESSAGE)
            got = exim.wait_for(at_once)
            assert len(got) == at_once, exim.log()
            # The scenario's clock, not a synchronisation: past the 2 s retry window, or past delay_warning. Exim keeps
            # those times in whole seconds, so 2.5 s after a failure late in a second can still be inside the window.
            time.sleep(4.0)
            exim.configure(retry=retry, delay_warning=warning)
            exim.queue_run()
            got = exim.wait_for(at_once + 1)
            assert len(got) == at_once + 1, exim.log()
            received += got
    # Which notice is about whom, from Exim's own headers (never from the parser under test).
    by_address: dict[str, bytes] = {}
    for raw in received:
        msg = email.message_from_bytes(raw)
        if str(msg.get("subject", "")).startswith("Warning:"):
            by_address["slow@delay.test"] = raw
        else:
            by_address[str(msg["x-failed-recipients"]).strip()] = raw
    assert sorted(by_address) == sorted(REPLIES)
    keep({f"exim-real-{address.split('@')[0]}": raw for address, raw in by_address.items()}, "MAILD_KEEP_EXIM_NOTICES")
    return by_address


def test_refused_address_bounces_at_once_as_a_hard_failure(notices: dict[str, bytes]) -> None:
    report = parse(notices["unknown@remote.test"])
    assert report.kind in (ReportKind.DSN, ReportKind.BOUNCE)
    assert rows(report) == [("unknown@remote.test", "failed", "5.1.1", "userunknown", True)]
    assert (report.token, report.original_message_id) == (TOKEN, MESSAGE_ID)


def test_retry_timeout_is_a_failure_with_the_remotes_code(notices: dict[str, bytes]) -> None:
    report = parse(notices["full@remote.test"])
    assert rows(report) == [("full@remote.test", "failed", "4.2.2", "mailboxfull", False)]
    assert report.token == TOKEN


def test_delay_warning_is_a_delay_never_hard(notices: dict[str, bytes]) -> None:
    report = parse(notices["slow@delay.test"])
    assert [(r.address, r.action, r.status, r.hard) for r in report.recipients] == [("slow@delay.test", "delayed", "4.3.0", False)]
    assert report.token == TOKEN
