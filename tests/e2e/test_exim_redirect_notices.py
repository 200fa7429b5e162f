"""Real Exim bounce for addresses it redirected: the bounced recipient is the address we wrote to, not the alias target.

A private Exim (tests/servers/exim.py) holds an alias file for alias.test: info@ forwards to one target, team@ to
two. The scripted remote refuses info's target and one of team's (550 5.1.1) and accepts the other. Exim's
bounce lists each target with "(generated from <the address we wrote to>)" and its delivery-status part names
what we wrote to in Final-Recipient, the remote's 5.1.1 only in Diagnostic-Code under its own 5.0.0. The
scenario decides the expected results: the two addresses the sender used failed, hard, 5.1.1, user unknown; the
targets are never reported (the sender never wrote to them, and a partly delivered alias stays failed for the
part that failed). The notice is also kept as tests/data/lhost/exim-real-redirected.eml (regenerate:
MAILD_KEEP_EXIM_NOTICES=1) so the parser's own tests read it where Exim is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from maild.reports import ReportKind, parse
from tests.e2e.notices import SENDER, TOKEN, keep, rows, scratch, skip_if_missing
from tests.servers.exim import Exim, exim_available

MESSAGE_ID = "<reply-43@helpdesk.example.com>"
MESSAGE = (
    f"From: Support <support@helpdesk.example.com>\nTo: info@alias.test, team@alias.test\n"
    f"Subject: [#1234] Your invoice\nMessage-ID: {MESSAGE_ID}\nDate: Mon, 02 Dec 2024 09:00:00 +0000\n\nHello.\n"
).encode()
ALIASES = "info: person@remote.test\nteam: one@remote.test, two@remote.test\n"
REFUSED = {
    "person@remote.test": "550 5.1.1 <person@remote.test>: Recipient address rejected: User unknown in local recipient table",
    "one@remote.test": "550 5.1.1 <one@remote.test>: Recipient address rejected: User unknown in local recipient table",
}


def router(aliases: Path) -> str:
    """An Exim redirect router for alias.test: the local part looked up in the alias file (lsearch)."""
    return f"alias:\n  driver = redirect\n  domains = alias.test\n  data = ${{lookup{{$local_part}}lsearch{{{aliases}}}}}\n"

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def notice() -> bytes:
    skip_if_missing(exim_available())
    with scratch("maild-exim-alias-", 0o755) as folder:
        (folder / "aliases").write_text(ALIASES)
        (folder / "aliases").chmod(0o644)
        with Exim(folder / "exim", REFUSED.get, own_domain="helpdesk.example.com", retry="* * F,1d,1s", routers=router(folder / "aliases")) as exim:
            exim.send(SENDER, ["info@alias.test", "team@alias.test"], MESSAGE)
            got = exim.wait_for(1)
            assert len(got) == 1, exim.log()
            # The scenario as Exim logged it (not the parser under test): both refusals, the accepted target.
            log = exim.log()
            assert "** person@remote.test <info@alias.test>" in log and "** one@remote.test <team@alias.test>" in log, log
            assert "=> two@remote.test <team@alias.test>" in log, log
    keep({"exim-real-redirected": got[0]}, "MAILD_KEEP_EXIM_NOTICES")
    return got[0]


def test_redirected_addresses_bounce_as_the_addresses_we_wrote_to(notice: bytes) -> None:
    report = parse(notice)
    assert report.kind in (ReportKind.DSN, ReportKind.BOUNCE)
    assert sorted(rows(report)) == [
        ("info@alias.test", "failed", "5.1.1", "userunknown", True),
        ("team@alias.test", "failed", "5.1.1", "userunknown", True),
    ]
    assert (report.token, report.original_message_id) == (TOKEN, MESSAGE_ID)
