"""Tracking tokens: mint and verify the signed per-recipient token carried in the VERP address.

A token is lowercase base32 (MTAs may lowercase local parts) of
    key id (1 char) | recipient id (6 bytes) | nonce (3 bytes) | HMAC-SHA256 truncated to 10 bytes
32 characters in all, so `receipts+TOKEN` stays well under the 64-character
local-part limit. Several keys may verify; the first in the key file signs.
The nonce keeps tokens distinct if a database is recreated with the same key.
"""

from __future__ import annotations

import base64
import re
from enum import StrEnum
from pathlib import Path

from maild.core import digest
from maild.core.frozen import frozen
from maild.core.secretfile import create_secret_file
from maild.errors import KeyFileError

_B32_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
KEY_ID_RE = re.compile(r"[a-z2-7]")
TOKEN_RE = re.compile(r"[a-z2-7]{32}")
_ID_BYTES, _NONCE_BYTES, _MAC_BYTES = 6, 3, 10
_DOMAIN = b"maild-token-v1\0"
MIN_SECRET_BYTES = 16


@frozen
class KeySet:
    """Signing keys by id; `signing` is the id new tokens use."""

    keys: dict[str, bytes]
    signing: str

    def __repr__(self) -> str:  # never print secrets
        return f"KeySet(ids={sorted(self.keys)}, signing={self.signing!r})"


def _random_bytes(n: int) -> bytes:
    import secrets  # here: verifying a receipt's token (`maild ingest`) needs no random bytes, only minting does

    return secrets.token_bytes(n)


def _random_hex(n: int) -> str:
    return _random_bytes(n).hex()  # secrets.token_hex(n) is token_bytes(n).hex()


class Rejection(StrEnum):
    MALFORMED = "malformed"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"


@frozen
class Verified:
    """A token that verified: the recipient it names and the key that signed it."""

    recipient_id: int
    key_id: str


@frozen
class Rejected:
    """A token that did not verify, and why."""

    reason: Rejection


def _mac(secret: bytes, key_id: str, body: bytes) -> bytes:
    return digest.hmac_sha256(secret, _DOMAIN + key_id.encode() + body)[:_MAC_BYTES]  # hmac's, without loading OpenSSL


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode().rstrip("=").lower()


def mint(keys: KeySet, recipient_id: int, *, nonce: bytes | None = None) -> str:
    if not 0 < recipient_id < 2 ** (8 * _ID_BYTES):
        raise ValueError("recipient id out of range")
    nonce = _random_bytes(_NONCE_BYTES) if nonce is None else nonce
    body = recipient_id.to_bytes(_ID_BYTES, "big") + nonce
    return keys.signing + _b32(body + _mac(keys.keys[keys.signing], keys.signing, body))


def verify(keys: KeySet, token: str) -> Verified | Rejected:
    """Check a token's signature; never raises on untrusted input."""
    token = token.strip().lower()
    if not TOKEN_RE.fullmatch(token):
        return Rejected(Rejection.MALFORMED)
    key_id, encoded = token[0], token[1:]
    try:
        raw = base64.b32decode(encoded.upper() + "=" * (-len(encoded) % 8))
    except ValueError:
        return Rejected(Rejection.MALFORMED)
    # 31 characters carry 155 bits for 152: the last character's spare bits must be zero, or two
    # different strings would verify as the same token.
    if len(raw) != _ID_BYTES + _NONCE_BYTES + _MAC_BYTES or _b32(raw) != encoded:
        return Rejected(Rejection.MALFORMED)
    secret = keys.keys.get(key_id)
    if secret is None:
        return Rejected(Rejection.UNKNOWN_KEY)
    body, mac = raw[: _ID_BYTES + _NONCE_BYTES], raw[_ID_BYTES + _NONCE_BYTES :]
    if not digest.compare_digest(mac, _mac(secret, key_id, body)):
        return Rejected(Rejection.BAD_SIGNATURE)
    recipient_id = int.from_bytes(body[:_ID_BYTES], "big")
    if recipient_id == 0:
        return Rejected(Rejection.MALFORMED)
    return Verified(recipient_id, key_id)


# ------------------------------------------------------------------ key file


def parse_key_file(text: str, source: Path) -> KeySet:
    """Lines of `KEYID:HEXSECRET` (KEYID one of a-z, 2-7); '#' comments; the first key signs."""
    keys: dict[str, bytes] = {}
    signing = None
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key_id, sep, hexsecret = line.partition(":")
        key_id = key_id.strip()
        if not sep or not KEY_ID_RE.fullmatch(key_id):
            raise KeyFileError(f"{source}:{number}: expected 'KEYID:HEXSECRET' with KEYID one of a-z or 2-7")
        try:
            secret = bytes.fromhex(hexsecret.strip())
        except ValueError:
            raise KeyFileError(f"{source}:{number}: the secret is not hexadecimal") from None
        if len(secret) < MIN_SECRET_BYTES:
            raise KeyFileError(f"{source}:{number}: the secret must have at least {MIN_SECRET_BYTES} bytes")
        if key_id in keys:
            raise KeyFileError(f"{source}:{number}: key id {key_id!r} appears twice")
        keys[key_id] = secret
        signing = signing or key_id
    if signing is None:
        raise KeyFileError(f"{source}: no key in the file")
    return KeySet(keys, signing)


def load_keys(path: Path, *, create: bool = False) -> KeySet:
    """Read the key file; with create=True a missing file is made (0600) with one fresh key."""
    if create and not path.exists():
        create_secret_file(path, f"# maild token keys: KEYID:HEXSECRET, the first line signs\na:{_random_hex(32)}\n")
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise KeyFileError(f"{path}: token key file not found (`maild run` creates it on first start)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"{path}: cannot read the token key file: {exc}") from None
    return parse_key_file(text, path)


def new_key_line(keys: KeySet | None) -> str:
    """A key line with an id not yet used, for rotation."""
    used = set(keys.keys) if keys else set()
    free = [c for c in _B32_ALPHABET if c not in used]
    if not free:
        raise KeyFileError("all 32 key ids are in use: remove retired keys first")
    return f"{free[0]}:{_random_hex(32)}"
