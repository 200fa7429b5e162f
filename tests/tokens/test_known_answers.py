"""Known answers for the token format: key, recipient id and nonce give this exact string, and the string gives them back.

Tokens live in VERP addresses and ENVIDs of mail already sent; receipts for that mail arrive for weeks. Any change of
the layout, alphabet, MAC domain or truncation fails here: such a change breaks tokens already sent."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from maild import tokens
from maild.tokens import KeySet, Rejected, Rejection, Verified

BREAKS = "this breaks tokens already sent: receipts for mail in the world would no longer verify"

# key id, secret (hex), recipient id, nonce (hex) -> token. Computed by independent() below from the format the
# module docstring and README document; pinned as literals so that a change of both sides still fails.
VECTORS = [
    ("a", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", 1, "000000",
     "aaaaaaaaaaeaaaagiw7yyh4xi3rbvu2a"),
    ("a", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", 123456789, "abcdef",
     "aaaaaow6ncwv433zrlhcp3232y47x2hy"),
    ("7", "ffffffffffffffffffffffffffffffff", 2**48 - 1, "010203", "77777777774aqea37ymdhrtupatsevzy"),
    ("q", "00112233445566778899aabbccddeeff", 42, "ffffff", "qaaaaaaaafl77777akvpt4tpuzpknawa"),
]


def independent(key_id: str, secret: bytes, recipient_id: int, nonce: bytes) -> str:
    """key id | base32(id 6 bytes big-endian | nonce 3 bytes | HMAC-SHA256("maild-token-v1\\0" key id body)[:10])."""
    body = recipient_id.to_bytes(6, "big") + nonce
    mac = hmac.new(secret, b"maild-token-v1\x00" + key_id.encode() + body, hashlib.sha256).digest()[:10]
    return key_id + base64.b32encode(body + mac).decode().rstrip("=").lower()


@pytest.mark.parametrize(("key_id", "secret", "rid", "nonce", "token"), VECTORS)
def test_mint_gives_the_known_token(key_id: str, secret: str, rid: int, nonce: str, token: str) -> None:
    assert independent(key_id, bytes.fromhex(secret), rid, bytes.fromhex(nonce)) == token
    keys = KeySet({key_id: bytes.fromhex(secret)}, key_id)
    assert tokens.mint(keys, rid, nonce=bytes.fromhex(nonce)) == token, BREAKS


@pytest.mark.parametrize(("key_id", "secret", "rid", "nonce", "token"), VECTORS)
def test_the_known_token_verifies_back(key_id: str, secret: str, rid: int, nonce: str, token: str) -> None:
    keys = KeySet({"z": b"\x01" * 16, key_id: bytes.fromhex(secret)}, "z")  # a newer key signs; the old one verifies
    assert tokens.verify(keys, token) == Verified(rid, key_id), BREAKS
    assert tokens.verify(keys, token.upper()) == Verified(rid, key_id), BREAKS  # MTAs may change case
    assert tokens.verify(keys, f" {token}\n") == Verified(rid, key_id), BREAKS


def test_one_flipped_character_is_a_bad_signature_not_another_recipient() -> None:
    key_id, secret, _, _, token = VECTORS[1]
    keys = KeySet({key_id: bytes.fromhex(secret)}, key_id)
    for i in range(1, 17):  # id and nonce characters: still well-formed, the MAC no longer matches
        c = "b" if token[i] != "b" else "c"
        assert tokens.verify(keys, token[:i] + c + token[i + 1 :]) == Rejected(Rejection.BAD_SIGNATURE)


def test_the_token_shape_is_fixed() -> None:
    for *_, token in VECTORS:
        assert len(token) == 32 and tokens.TOKEN_RE.fullmatch(token), BREAKS


def test_recipient_ids_outside_six_bytes_are_refused() -> None:
    keys = KeySet({"a": bytes(range(32))}, "a")
    for rid in (0, -1, 2**48, 3**48):
        with pytest.raises(ValueError, match="^recipient id out of range$"):
            tokens.mint(keys, rid)
    assert tokens.verify(keys, tokens.mint(keys, 2**48 - 1, nonce=b"\0\0\0")) == Verified(2**48 - 1, "a")


def test_every_malformed_form_is_rejected_as_malformed() -> None:
    keys = KeySet({"a": bytes(range(32))}, "a")
    token = VECTORS[0][4]
    zero_id = independent("a", bytes(range(32)), 0, b"\0\0\0")  # well signed, but recipient id 0 is never minted
    spare_bits = token[:-1] + chr(ord(token[-1]) + 1)  # the last character's unused bits set
    for bad in ("", token[:-1], token + "a", token[:5] + "!" + token[6:], token[:5] + "1" + token[6:], spare_bits, zero_id):
        assert tokens.verify(keys, bad) == Rejected(Rejection.MALFORMED), bad
