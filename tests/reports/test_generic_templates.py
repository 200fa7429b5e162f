"""Notices of MTAs no dialect module knows, read by the generic heuristics: what the last resort scores on unseen mail.

The fixtures in tests/data/generic are written from each MTA's source, not from anyone's samples:
hMailServer's SEND_FAILED_NOTIFICATION text (DBScripts/CreateTables*.sql: "Your message did not reach some or
all of the intended recipients", "The following recipient(s) could not be reached:"), the per-recipient lines
of SMTPClientConnection.cpp ("Error Type: SMTP", "hMailServer sent:", "Remote server replied:", a multi-line
reply joined with CRLF), and ExternalDelivery.cpp, which sends that notice for temporary failures only once it
stops retrying ("We are finished trying. Let's give up!") and then appends "Tried N time(s)"; chasquid's
internal/queue/dsn.go template, whose alias resolution (queue.go: Address is the resolved target,
OriginalAddress what the sender wrote) puts the sender's address in X-Failed-Recipients and the text's list
and the target in Final-Recipient. The expected
results come from each fixture's scenario (which address the remote refused with which reply, whether the MTA
had given up), not from a parser.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from maild.reports import ReportKind, parse

DATA = Path(__file__).resolve().parents[1] / "data" / "generic"
TOKEN = "mfrggzdfmztwq2lknnwg23tpobyxe43u"


def _read(name: str) -> bytes:
    return (DATA / name).read_bytes()


def test_a_count_of_attempts_made_says_the_mta_gave_up_whatever_the_code() -> None:
    # hMailServer returns temporary failures to the sender only when it stops retrying: the 4.x.x replies it
    # quotes are the last ones it got, so both recipients failed (not delayed), soft.
    report = parse(_read("hmailserver-gave-up.eml"))
    assert report.kind is ReportKind.BOUNCE
    assert [(r.address, r.action, r.status, r.hard) for r in report.recipients] == [
        ("full@remote.example.net", "failed", "4.2.2", False),
        ("down@offline.example.net", "failed", "4.4.2", False),
    ]
    assert str(report.recipients[0].reason) == "mailboxfull"
    assert report.token == TOKEN


def test_the_same_notice_without_the_count_is_still_read_from_the_code() -> None:
    # Without "Tried N time(s)" nothing in the text says whether hMailServer stopped: the 4.x.x code decides.
    raw = _read("hmailserver-gave-up.eml").replace(b"Tried 5 time(s)\n", b"")
    assert [r.action for r in parse(raw).recipients] == ["delayed", "delayed"]


def test_addresses_the_remotes_reply_asks_to_write_to_are_not_bounced_recipients() -> None:
    # The RBL-style refusal names a delisting address and the remote's postmaster; only the refused recipient failed.
    report = parse(_read("hmailserver-contact-reply.eml"))
    assert [(r.address, r.action, r.status) for r in report.recipients] == [("listed@remote.example.net", "failed", "5.7.1")]
    assert report.token == TOKEN


@pytest.mark.parametrize("words", [
    b"please forward this message to postmaster@remote.example.net",
    b"Forward the full bounce message to abuse@remote.example.net",
    b"notify hostmaster@remote.example.net",
    b"ask the helpdesk: help@remote.example.net",
])
def test_an_address_the_reply_asks_to_forward_the_notice_to_or_notify_is_not_a_bounced_recipient(words: bytes) -> None:
    raw = _read("hmailserver-contact-reply.eml").replace(
        b"550 5.7.1 To request removal write to delist@rbl.example.org, questions to postmaster@remote.example.net",
        b"550 5.7.1 Rejected by policy, " + words,
    )
    assert [r.address for r in parse(raw).recipients] == ["listed@remote.example.net"]


def test_a_reply_naming_the_recipient_after_to_or_for_still_counts() -> None:
    # The contact rule reads only the words right before the address: a reply line naming an address after "to"
    # without a word that asks to write there still names a recipient.
    raw = _read("hmailserver-contact-reply.eml").replace(
        b"550 5.7.1 To request removal write to delist@rbl.example.org, questions to postmaster@remote.example.net",
        b"550 5.7.1 Relaying denied to other@remote.example.net",
    )
    assert {r.address for r in parse(raw).recipients} == {"listed@remote.example.net", "other@remote.example.net"}
    raw = raw.replace(b"Relaying denied to other@", b"This report relates to a message you sent to other@")
    assert {r.address for r in parse(raw).recipients} == {"listed@remote.example.net", "other@remote.example.net"}


def test_an_alias_resolved_inside_the_reporting_mta_is_reported_as_the_address_the_sender_used() -> None:
    # chasquid resolved team@ to lead@ and the remote refused lead@: the sender wrote team@, and the notice's
    # X-Failed-Recipients names team@ only, so team@ bounced; the Final-Recipient stays the original's target.
    report = parse(_read("chasquid-alias.eml"))
    assert report.kind is ReportKind.DSN
    assert [(r.address, r.original_recipient, r.action, r.status, str(r.reason)) for r in report.recipients] == [
        ("team@customer.example.org", "team@customer.example.org", "failed", "5.1.1", "userunknown")
    ]
    assert (report.token, report.original_message_id) == (TOKEN, "<reply-42@helpdesk.example.com>")


def test_without_the_header_naming_the_original_the_final_recipient_stays() -> None:
    # Postfix's "(expanded from <a>)" names both in its text and has no X-Failed-Recipients: Final-Recipient, as RFC 3464 says.
    raw = _read("chasquid-alias.eml").replace(b"X-Failed-Recipients: team@customer.example.org, \n", b"")
    assert [r.address for r in parse(raw).recipients] == ["lead@remote.example.net"]
