"""Tokens: round trip, lowercase-safe, short enough, and forgeries rejected."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from maild import tokens
from maild.errors import KeyFileError
from maild.tokens import Rejected, Rejection, Verified

KEYS = tokens.parse_key_file("a:" + "11" * 32 + "\nb:" + "22" * 32 + "\n", source=__file__)  # type: ignore[arg-type]
OTHER = tokens.parse_key_file("a:" + "33" * 32 + "\n", source=__file__)  # type: ignore[arg-type]


@given(st.integers(min_value=1, max_value=2**48 - 1))
def test_round_trip(recipient_id):
    token = tokens.mint(KEYS, recipient_id)
    assert tokens.verify(KEYS, token) == Verified(recipient_id, "a")


def test_token_is_lowercase_base32_and_fits_a_local_part():
    token = tokens.mint(KEYS, 123456)
    assert set(token) <= set(string.ascii_lowercase + "234567")
    assert len("receipts+" + token) <= 64


def test_uppercased_token_still_verifies():
    token = tokens.mint(KEYS, 42)
    assert tokens.verify(KEYS, token.upper()) == Verified(42, "a")


def test_tokens_for_the_same_recipient_differ():
    assert tokens.mint(KEYS, 7) != tokens.mint(KEYS, 7)


def test_old_key_still_verifies_after_rotation():
    old = tokens.parse_key_file("b:" + "22" * 32 + "\n", source="x")  # type: ignore[arg-type]
    token = tokens.mint(old, 9)
    assert tokens.verify(KEYS, token) == Verified(9, "b")


def test_wrong_key_is_a_bad_signature():
    assert tokens.verify(OTHER, tokens.mint(KEYS, 5)) == Rejected(Rejection.BAD_SIGNATURE)


def test_unknown_key_id():
    token = "c" + tokens.mint(KEYS, 5)[1:]
    assert tokens.verify(KEYS, token) == Rejected(Rejection.UNKNOWN_KEY)


@pytest.mark.parametrize("token", ["", "short", "a" * 31, "a" * 33, "a" + "1" * 31, "a" + "!" * 31])
def test_malformed(token):
    assert tokens.verify(KEYS, token) == Rejected(Rejection.MALFORMED)


@given(st.integers(min_value=1, max_value=2**40), st.integers(min_value=1, max_value=31), st.sampled_from("abcdefghijklmnopqrstuvwxyz234567"))
def test_any_altered_character_is_rejected(recipient_id, position, replacement):
    token = tokens.mint(KEYS, recipient_id)
    if token[position] == replacement:
        return
    altered = token[:position] + replacement + token[position + 1 :]
    assert isinstance(tokens.verify(KEYS, altered), Rejected)


@given(st.integers(min_value=1, max_value=2**40), st.integers(min_value=0, max_value=31))
def test_truncated_tokens_are_rejected(recipient_id, keep):
    token = tokens.mint(KEYS, recipient_id)
    assert tokens.verify(KEYS, token[:keep]) == Rejected(Rejection.MALFORMED)


@given(st.text(max_size=80))
def test_arbitrary_text_never_raises(text):
    assert isinstance(tokens.verify(KEYS, text), (Verified, Rejected))


def test_key_file_created_0600_on_first_start(tmp_path):
    path = tmp_path / "var" / "token.key"
    keys = tokens.load_keys(path, create=True)
    assert path.stat().st_mode & 0o777 == 0o600
    assert tokens.load_keys(path) == keys  # the second start reads the same key


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no key"),
        ("a:zz\n", "not hexadecimal"),
        ("a:1122\n", "at least 16 bytes"),
        ("1:" + "11" * 32 + "\n", "KEYID"),
        ("a:" + "11" * 32 + "\na:" + "22" * 32 + "\n", "appears twice"),
    ],
)
def test_bad_key_files(tmp_path, text, message):
    path = tmp_path / "k"
    path.write_text(text)
    with pytest.raises(KeyFileError, match=message):
        tokens.load_keys(path)
