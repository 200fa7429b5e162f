"""Lenient parsing of RFC 822-style field blocks (DSN, MDN and ARF report parts) and of address-ish field values."""

from __future__ import annotations

import re

from maild.core.lazyre import lazy
from maild.core.syntax import ADDRESS, ADDRESS_PATTERN

_FIELD = lazy(r"^([A-Za-z][A-Za-z0-9_-]*)[ \t]*:[ \t]*(.*)$")
_ANGLE_ADDR = lazy(rf"<\s*({ADDRESS_PATTERN})\s*>")

# Compiled once, not looked up in re's cache on every value.
_TYPE_NAME = lazy(r"\s*[A-Za-z][A-Za-z0-9-]*\s*")
_TYPE_PREFIX = lazy(r"^(?:mailto|smtp|rfc822)[:=;]\s*", re.I)

Field = tuple[str, str]


def parse_fields(text: str) -> list[list[Field]]:
    """Blocks of (lower-case name, unfolded value); any case, spaces before the colon, any line ends."""
    blocks: list[list[Field]] = []
    current: list[Field] = []
    # The last field's value as its pieces, joined once the field ends: adding each continuation line to the string
    # was quadratic (a fuzzed DSN with one continuation line 20,000 times took 2 s of CPU here).
    pieces: list[str] = []

    def end_field() -> None:
        if current and len(pieces) > 1:
            current[-1] = (current[-1][0], " ".join(p for p in pieces if p))
        pieces.clear()

    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not line.strip():
            end_field()
            if current:
                blocks.append(current)
                current = []
            continue
        if line[0] in " \t":
            if current:
                pieces.append(line.strip())
            continue
        match = _FIELD.match(line)
        if match:
            end_field()
            value = match.group(2).strip()
            current.append((match.group(1).lower(), value))
            pieces.append(value)
        elif current and current[-1][0] in _CONTINUABLE:
            # Some MTAs wrap long diagnostics without the leading space folding needs.
            pieces.append(line.strip())
    end_field()
    if current:
        blocks.append(current)
    return blocks


_CONTINUABLE = {"diagnostic-code", "x-postfix-diagnostic", "x-diagnostic", "disposition", "original-message-id"}


def typed_value(value: str | None) -> tuple[str | None, str]:
    """Split 'rfc822; x@y' into ('rfc822', 'x@y'); a value without a type gives (None, value)."""
    if not value:
        return None, ""
    head, sep, rest = value.partition(";")
    if sep and _TYPE_NAME.fullmatch(head):
        return head.strip().lower(), rest.strip()
    return None, value.strip()


def address_of(value: str | None, *, allow_dotless: bool = False) -> str | None:
    """The mailbox in a field value: 'rfc822; a@b', 'a@b', '<a@b>', 'Name <a@b>'; the domain is lower-cased."""
    if not value:
        return None
    _, rest = typed_value(value)
    rest = rest.strip()
    if not rest:
        return None
    match = _ANGLE_ADDR.search(rest)
    candidate = match.group(1) if match else None
    if candidate is None:
        found = ADDRESS.search(rest)
        candidate = found.group(0) if found else None
    if candidate is None:
        return None
    return normalize_address(candidate, allow_dotless=allow_dotless)


def normalize_address(address: str, *, allow_dotless: bool = False) -> str | None:
    """A bare mailbox; dotless domains (an MTA's own host name) only where a field says it is a recipient."""
    address = address.strip().strip("<>'.,;:()[]").strip()
    if address.count('"') == 1 or not address.startswith('"'):
        address = address.strip('"')
    # Exchange and X.400 gateways prefix the address with its type.
    address = _TYPE_PREFIX.sub("", address)
    local, sep, domain = address.rpartition("@")
    if not sep or not local or not domain or "." not in domain and not domain.startswith("[") and not allow_dotless:
        return None
    # Domains are case-insensitive; local parts are the receiving site's business, so keep them.
    return f"{local}@{domain.lower()}"


def all_addresses(text: str) -> list[str]:
    out: list[str] = []
    for match in ADDRESS.finditer(text):
        addr = normalize_address(match.group(0))
        if addr and addr not in out:
            out.append(addr)
    return out
