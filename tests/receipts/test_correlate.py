"""The correlation rules of maild.correlate on a real database: the Message-ID fallback matches one of the report's
addresses case-insensitively, with or without angle brackets, and returns the whole recipient row."""

from __future__ import annotations

from maild import correlate
from maild.correlate import Match, MatchedBy
from tests.receipts.conftest import KEYS, T0, send


def test_by_message_id_returns_the_recipient_row_with_its_acceptance_time(db) -> None:
    sent = send(db, "alice@example.net", "Xena@Example.net")
    got = correlate.by_message_id(db, "<m1@helpdesk.example.com>", ["<XENA@example.NET>"])
    assert got == Match(sent.rid("Xena@Example.net"), sent.message, "Xena@Example.net", T0, MatchedBy.MESSAGE_ID)


def test_by_message_id_reads_addresses_in_angle_brackets_and_skips_empty_ones(db) -> None:
    sent = send(db, "xavier@example.net")
    assert correlate.by_message_id(db, "<m1@helpdesk.example.com>", [None, "", "<>", " <xavier@example.net> "]) == Match(
        sent.rid("xavier@example.net"), sent.message, "xavier@example.net", T0, MatchedBy.MESSAGE_ID)


def test_by_message_id_needs_both_a_message_id_and_an_address(db) -> None:
    send(db, "alice@example.net")
    assert correlate.by_message_id(db, "<m1@helpdesk.example.com>", []) is None
    assert correlate.by_message_id(db, "<m1@helpdesk.example.com>", ["<>"]) is None
    assert correlate.by_message_id(db, "", ["alice@example.net"]) is None
    assert correlate.by_message_id(db, "<m1@helpdesk.example.com>", ["bob@example.net"]) is None  # not a recipient
    assert correlate.by_message_id(db, "<other@helpdesk.example.com>", ["alice@example.net"]) is None


def test_by_token_returns_the_same_row_as_the_message_id_fallback(db) -> None:
    sent = send(db, "alice@example.net")
    got = correlate.by_token(db, KEYS, sent.token("alice@example.net"))
    assert got == Match(sent.rid("alice@example.net"), sent.message, "alice@example.net", T0, MatchedBy.TOKEN)
