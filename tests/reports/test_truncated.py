"""Recipients printed cut short by a provider's notice are completed from the returned To/Cc, only when one address fits.

The fixture mailmarshal-truncated.eml follows MailMarshal's (Trustwave SEG) notice layout ("Undeliverable Mail:
\"subject\"", "Your message:", "Could not be delivered because of", "The following recipients were affected:" with
each address indented four spaces, "Additional Information"); the scenario is a recipient whose long address the
list printed cut off at its column, the copy of our message attached in full. Expected: the full address.
"""

from __future__ import annotations

import email
from email.policy import compat32
from pathlib import Path

from maild.reports import parse
from maild.reports.model import RecipientResult
from maild.reports.truncated import complete, completed, returned_recipients

DATA = Path(__file__).resolve().parents[1] / "data" / "lhost"
FULL = "christina.lindqvist-andersson@accounts.northwind-traders.example"


def _returned(headers: str) -> email.message.Message:
    return email.message_from_string(headers + "\n\nbody\n", policy=compat32)


def test_a_cut_off_recipient_in_a_providers_list_is_completed_from_the_returned_to() -> None:
    report = parse((DATA / "mailmarshal-truncated.eml").read_bytes())
    assert [(r.address, r.action, r.status, r.reason) for r in report.recipients] == [(FULL, "failed", "5.1.1", "userunknown")]
    assert "recipient completed from the returned headers" in report.problems


def test_without_the_returned_copy_the_address_stays_as_printed() -> None:
    raw = (DATA / "mailmarshal-truncated.eml").read_bytes()
    raw = raw.replace(b"To: Christina Lindqvist-Andersson <christina.lindqvist-andersson@accounts.northwind-traders.example>\n", b"")
    (r,) = parse(raw).recipients
    assert r.address == "christina.lindqvist-andersson@accounts.northwind-tra"


def test_completed_needs_exactly_one_longer_address_starting_with_the_printed_one() -> None:
    known = ["Ann.Smith@Example.com", "bob@example.org", "bob@example.net"]
    assert completed("ann.smith@exa", known) == "Ann.Smith@Example.com"
    assert completed("ann.smith@example.co", known) == "Ann.Smith@Example.com"
    assert completed("bob@example", known) is None  # two fit: nothing is guessed
    assert completed("bob@example.org", known) is None  # not cut
    assert completed("carol@example.com", known) is None  # none fits
    assert completed("ann.smith@", known) is None  # nothing of the domain left to go on
    assert completed("ann.smi", known) is None  # no "@": not an address at all


def test_returned_recipients_reads_to_cc_and_bcc_or_an_inline_copy() -> None:
    msg = _returned("To: A <a@example.com>, b@example.com\nCc: c@example.com\nBcc: d@example.com")
    assert returned_recipients(msg) == ["a@example.com", "b@example.com", "c@example.com", "d@example.com"]
    inline = "--- Below this line is a copy of the message.\n\nFrom: s@example.org\nTo: a@example.com,\n  e@example.com\nSubject: x\n"
    assert returned_recipients(None, inline) == ["a@example.com", "e@example.com"]
    assert returned_recipients(None) == []


def _result(address: str) -> RecipientResult:
    return RecipientResult(address=address, original_recipient=None, action="failed", status="5.1.1", reason="userunknown",
                           hard=True, diagnostic=None, remote_mta=None, disposition=None)


def test_complete_never_merges_a_cut_address_into_another_listed_recipient() -> None:
    problems: list[str] = []
    returned = _returned("To: ann@example.com, ann@example.co")
    out = complete([_result("ann@example.co"), _result("ann@example.com")], returned, problems)
    assert [r.address for r in out] == ["ann@example.co", "ann@example.com"]
    assert problems == []
