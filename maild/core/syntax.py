"""The two bits of mail syntax everyone looks for: an enhanced status code (RFC 3463) and an address, one pattern each.

`STATUS_CODE` finds "5.1.1" in a DSN field, a diagnostic or an SMTP reply
(never inside a longer dotted number such as a version or an IP address);
`fullmatch` checks a lone code. `ADDRESS` finds a mailbox (a bare or quoted
local part at a domain or an address literal) in header values and text and,
with `fullmatch`, checks one. `ADDRESS_PATTERN` is its text, for patterns that
find an address in a context (after "Final-Recipient:", inside <...>).
"""

from __future__ import annotations

import re

STATUS_CODE = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.]*\d)")

_DOMAIN = r"[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?"
_LOCAL = r"[^\s<>()\[\]\",;:@]+"
ADDRESS_PATTERN = rf"\"[^\"\s@]+\"@{_DOMAIN}|{_LOCAL}@{_DOMAIN}|{_LOCAL}@\[(?:IPv6:)?[0-9.:a-fA-F]+\]"
ADDRESS = re.compile(ADDRESS_PATTERN)


def status_code_at_start(text: str) -> re.Match[str] | None:
    """An enhanced status code opening `text` and followed by white space or the end (RFC 2034: "250 2.1.0 Ok")."""
    m = STATUS_CODE.match(text)
    if m is None or (m.end() < len(text) and not text[m.end()].isspace()):
        return None
    return m
