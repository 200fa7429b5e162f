"""What a report carries that points at its recipient: maild tokens (addresses, envelope ids), original Message-IDs; and ParseHints."""

from __future__ import annotations

from collections.abc import Iterable

from maild.core.frozen import frozen
from maild.core.lazyre import lazy
from maild.core.syntax import ADDRESS

_TOKEN = lazy(r"^[a-z2-7]{16,56}$")
_MSGID = lazy(r"<([^<>\s]+)>")
# Bounded and started only where a run starts: unbounded, a run of 500,000 characters without "@" was tried from each
# of its positions (55 s of CPU in one findall).
_BARE_MSGID = lazy(r"(?<![^\s<>\"',;()])[^\s<>\"',;()]{1,256}@[^\s<>\"',;()]{1,256}")


@frozen
class ParseHints:
    """What the parser knows about maild's own addresses, and its limits."""

    local_part: str | None = "receipts"
    delimiter: str = "+"
    domain: str | None = None
    max_bytes: int = 10 * 1024 * 1024
    max_depth: int = 20
    time_limit: float = 2.0


def hints_for(return_path: str, delimiter: str) -> ParseHints:
    """The parse hints for maild's return path (LOCAL@DOMAIN) and token delimiter; an empty or missing part means "any".

    The one place these hints are built from settings (`maild parse`, the receipt sources, pipe and quarantine retry).
    """
    local, at, domain = return_path.strip().rpartition("@")
    if not at:
        local, domain = domain, ""
    return ParseHints(local_part=local or None, delimiter=delimiter, domain=domain or None)


def token_from_envid(value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip().strip("<>").lower()
    return value if _TOKEN.match(value) else None


def tokens_from_addresses(values: Iterable[str | None], hints: ParseHints) -> list[str]:
    """Tokens in LOCAL<delim>TOKEN@DOMAIN addresses found anywhere in the given header values."""
    found: list[str] = []
    for value in values:
        if not value:
            continue
        for match in ADDRESS.finditer(value):
            token = _token_of(match.group(0), hints)
            if token and token not in found:
                found.append(token)
    return found


def _token_of(address: str, hints: ParseHints) -> str | None:
    local, _, domain = address.strip("<>.").rpartition("@")
    if hints.domain and domain.lower() != hints.domain.lower():
        return None
    base, sep, token = local.partition(hints.delimiter)
    if not sep:
        return None
    if hints.local_part and base.lower() != hints.local_part.lower():
        return None
    token = token.lower()
    return token if _TOKEN.match(token) else None


def message_id(value: str | None) -> str | None:
    """The first Message-ID in a field value, with angle brackets; bare and folded ids are accepted."""
    ids = message_ids(value)
    return ids[0] if ids else None


_SPACE_AFTER_OPEN = lazy(r"<\s+")
_SPACE_BEFORE_CLOSE = lazy(r"\s+>")


def message_ids(value: str | None) -> list[str]:
    if not value:
        return []
    value = value.replace("\r", " ").replace("\n", " ")
    found = [f"<{m}>" for m in _MSGID.findall(value)]
    if not found:
        # A missing bracket, or a value folded right after "<".
        joined = _SPACE_AFTER_OPEN.sub("<", _SPACE_BEFORE_CLOSE.sub(">", value))
        found = [f"<{m}>" for m in _MSGID.findall(joined)]
    if not found:
        found = [f"<{m.strip('<>')}>" for m in _BARE_MSGID.findall(value)]
    return found


def best_unique(*groups: Iterable[str | None]) -> tuple[str, ...]:
    out: list[str] = []
    for group in groups:
        for item in group:
            if item and item not in out:
                out.append(item)
    return tuple(out)
