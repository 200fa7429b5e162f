"""SHA-256 from the implementation that costs a process least: CPython's own until it has hashed much, then OpenSSL's.

`import hashlib` loads OpenSSL's libcrypto (about 4 ms of `maild parse`'s start-up here, a fifteenth of the
60 ms a command may take) for a command that hashes one report. CPython's built-in SHA-256 (`_sha256`, `_sha2`
from 3.12) makes the same digest and costs nothing to import, but hashes about six times slower (11 ms against
1.9 ms over the Sisimai set's 1.4 MB). So a process hashes with the built-in one until it has given it
`OPENSSL_AFTER` bytes, and with hashlib's from then on, or at once when hashlib is already imported (the daemon)
or the built-in one is missing (a Python built without it). `hmac_sha256` is RFC 2104's HMAC over the same
choice (`import hmac` imports hashlib: a fifteenth of `maild ingest`'s start-up, one process per receipt, to
check one token), and `compare_digest` the constant-time comparison hmac itself falls back to.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Protocol

    class Hashing(Protocol):
        """What hashlib.sha256() and the built-in one both are."""

        def update(self, data: bytes, /) -> None: ...
        def digest(self) -> bytes: ...
        def hexdigest(self) -> str: ...

OPENSSL_AFTER = 256 * 1024  # bytes: past this, hashlib's import has paid for itself in the faster hashing

_builtin: Callable[..., Hashing] | None
try:
    from _sha256 import sha256 as _builtin  # type: ignore[import-not-found, no-redef, unused-ignore]
except ImportError:  # pragma: no cover - CPython 3.12 renamed it; a build may leave it out
    try:
        from _sha2 import sha256 as _builtin  # type: ignore[import-not-found, no-redef, unused-ignore]
    except ImportError:
        _builtin = None
_given = 0  # bytes announced to the built-in one so far
_BLOCK = 64  # SHA-256's block size: an HMAC key is padded to it (RFC 2104)
_IPAD = bytes(x ^ 0x36 for x in range(256))  # key bytes XOR 0x36 / 0x5C, as bytes.translate tables (hmac's own way)
_OPAD = bytes(x ^ 0x5C for x in range(256))

compare_digest: Callable[[bytes, bytes], bool]
try:
    from _operator import _compare_digest as compare_digest  # what hmac.compare_digest is without OpenSSL
except ImportError:  # pragma: no cover - every CPython has it; another Python may not
    import hmac

    compare_digest = hmac.compare_digest


def sha256(size: int) -> Hashing:
    """A new SHA-256 object (update, digest, hexdigest) for about `size` bytes of data."""
    global _given
    _given += size
    if _builtin is None or _given > OPENSSL_AFTER or "hashlib" in sys.modules:
        import hashlib

        return hashlib.sha256()
    return _builtin()


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    """``hmac.new(key, message, hashlib.sha256).digest()``, made with the built-in SHA-256 when sha256() would be."""
    if _builtin is None or "hashlib" in sys.modules:
        import hashlib
        import hmac

        return hmac.new(key, message, hashlib.sha256).digest()
    if len(key) > _BLOCK:
        key = _builtin(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    inner = _builtin(key.translate(_IPAD))
    inner.update(message)
    outer = _builtin(key.translate(_OPAD))
    outer.update(inner.digest())
    return outer.digest()
