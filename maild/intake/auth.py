"""SMTP AUTH users: a file of `user:scrypt-hash` lines, hashing and constant-time verification.

Hash format: `scrypt$N$r$p$SALT_HEX$HASH_HEX` (hashlib.scrypt, no extra
dependency). The intake runs `check` in a worker thread (never on the event
loop); verified credentials are remembered (keyed by a SHA-256 of user and
password, never the password itself) so a client that authenticates on every
connection costs one scrypt, not one per session. An unknown user costs the
same scrypt as a known one (a dummy hash with the users' own parameters), so
timing does not tell which user names exist.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from maild.errors import ConfigError

_N, _R, _P, _DKLEN = 2**14, 8, 1, 32


def hash_password(password: str, *, n: int = _N, r: int = _R, p: int = _P) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=_DKLEN)
    return f"scrypt${n}${r}${p}${salt.hex()}${digest.hex()}"


def check_password(password: str, encoded: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != "scrypt":
            return False
        expected = bytes.fromhex(digest)
        got = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected),
            maxmem=128 * int(n) * int(r) * 2 + 1024 * 1024,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def _dummy_for(hashes: dict[str, str]) -> str:
    """A hash of a random password with the parameters most users' hashes have."""
    params: dict[tuple[int, int, int], int] = {}
    for encoded in hashes.values():
        fields = encoded.split("$")
        try:
            key = (int(fields[1]), int(fields[2]), int(fields[3]))
        except (ValueError, IndexError):
            continue
        params[key] = params.get(key, 0) + 1
    cost = max(params, key=params.__getitem__) if params else (_N, _R, _P)
    return hash_password(secrets.token_hex(16), n=cost[0], r=cost[1], p=cost[2])


@dataclass
class Users:
    hashes: dict[str, str]
    _verified: set[bytes] = field(default_factory=set, repr=False)
    dummy: str = ""

    def __post_init__(self) -> None:
        if not self.dummy:
            self.dummy = _dummy_for(self.hashes)

    def check(self, user: str, password: str) -> bool:
        marker = hashlib.sha256(user.encode() + b"\0" + password.encode()).digest()
        if marker in self._verified:
            return True
        encoded = self.hashes.get(user)
        if encoded is None:
            check_password(password, self.dummy)  # the same work as for a known user: no user-name oracle
            return False
        if check_password(password, encoded):
            self._verified.add(marker)
            return True
        return False


def load_users(path: Path) -> Users:
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise ConfigError(path, "intake.users_file", f"cannot read users file: {exc.strerror}") from None
    hashes: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, encoded = line.partition(":")
        if not sep or not user or not encoded.startswith("scrypt$") or encoded.count("$") != 5:
            raise ConfigError(
                path, f"line {number}", "expected 'user:scrypt$N$r$p$salt$hash' (make one with `maild hash-password`)"
            )
        hashes[user] = encoded
    return Users(hashes)
