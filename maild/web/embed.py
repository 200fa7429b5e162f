"""Signed embed links: `/ui/embed/TICKET?exp=EPOCH&sig=HMAC` opens one ticket's compact panel without a login.

The signature is HMAC-SHA256 over the ticket and the expiry under the key of `web.embed_key_file`;
a link whose signature does not verify, or whose expiry has passed, is refused.
"""

from __future__ import annotations

import hashlib
import hmac
from enum import StrEnum
from urllib.parse import quote


class EmbedCheck(StrEnum):
    OK = "ok"
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"
    MALFORMED = "malformed"


def _signature(key: str, ticket: str, expires: int) -> str:
    return hmac.new(key.encode(), f"embed\n{ticket}\n{expires}".encode(), hashlib.sha256).hexdigest()


def embed_path(key: str, ticket: str, expires: int) -> str:
    """The path and query of a signed link to one ticket, valid until `expires` (Unix seconds)."""
    return f"/ui/embed/{quote(ticket, safe='')}?exp={expires}&sig={_signature(key, ticket, expires)}"


def check(key: str, ticket: str, exp: str | None, sig: str | None, now: float) -> EmbedCheck:
    if not exp or not sig or not exp.isdigit() or len(exp) > 12:
        return EmbedCheck.MALFORMED
    expected = _signature(key, ticket, int(exp))
    if not hmac.compare_digest(expected.encode(), sig.encode()):
        return EmbedCheck.BAD_SIGNATURE
    if int(exp) < now:
        return EmbedCheck.EXPIRED
    return EmbedCheck.OK
