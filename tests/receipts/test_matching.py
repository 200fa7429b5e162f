"""The correlation rules of maild.receipts.matching on a real database: the Message-ID fallback matches one of the report's
addresses case-insensitively, with or without angle brackets, and returns the whole recipient row."""

from __future__ import annotations

from maild.receipts import matching as correlate
from maild.receipts.matching import Match, MatchedBy
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
    send(db, "zoe@example.net", message_id="<m0@helpdesk.example.com>")  # so that row ids and message ids differ
    sent = send(db, "bob@example.net", "alice@example.net")
    assert sent.rid("alice@example.net") != sent.message
    got = correlate.by_token(db, KEYS, sent.token("alice@example.net"))
    assert got == Match(sent.rid("alice@example.net"), sent.message, "alice@example.net", T0, MatchedBy.TOKEN)


def test_by_token_says_why_a_token_is_not_trusted_and_names_it_lowercased(db) -> None:
    from maild.receipts.matching import TokenProblem, TokenRejected
    from maild.tokens import KeySet, mint

    sent = send(db, "alice@example.net")
    good = sent.token("alice@example.net")
    assert correlate.by_token(db, KEYS, "not-a-token") == TokenRejected("not-a-token", TokenProblem.MALFORMED)
    forged = mint(KeySet({KEYS.signing: b"\x02" * 32}, KEYS.signing), sent.rid("alice@example.net"))
    assert correlate.by_token(db, KEYS, forged.upper()) == TokenRejected(forged, TokenProblem.BAD_SIGNATURE)
    other_key = "z" if KEYS.signing != "z" else "y"
    stranger = mint(KeySet({other_key: b"\x03" * 32}, other_key), 1)
    assert correlate.by_token(db, KEYS, stranger) == TokenRejected(stranger, TokenProblem.UNKNOWN_KEY)
    # well signed, but no recipient row holds it (another database, or a purged one)
    unknown = mint(KEYS, sent.rid("alice@example.net") + 1000)
    assert correlate.by_token(db, KEYS, f" {unknown.upper()} ") == TokenRejected(unknown, TokenProblem.UNKNOWN_RECIPIENT)
    # a valid token for an existing row, but not the token that row holds (minted with another nonce)
    again = mint(KEYS, sent.rid("alice@example.net"))
    assert again != good
    assert correlate.by_token(db, KEYS, again) == TokenRejected(again, TokenProblem.UNKNOWN_RECIPIENT)
