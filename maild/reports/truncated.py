"""Recipients a notice printed cut short (a provider's fixed-width or wrapped format), completed from the returned message's To and Cc.

Some providers' notices print the recipient in a column of fixed width or wrap it at the line's end
(MailMarshal's "The following recipients were affected:" list, Mimecast's and Office 365's tables, France
Telecom's notices), so the address read from the notice is only a prefix of the real one: "ann.smith@exa"
or "ann.smith@example.co". The returned copy of our message still names every To and Cc recipient in full.
A printed address that is none of them but the start of exactly one of them is that one; anything else (no
returned headers, no match, two matches) stays as printed, so nothing is ever guessed.
"""

from __future__ import annotations

import re
from email.message import Message

from maild.core.frozen import replace
from maild.core.lazyre import lazy
from maild.core.prefilter import LinePattern
from maild.core.syntax import UnreadableAddresses, address_pairs
from maild.reports.model import RecipientResult

_HEADERS = ("to", "cc", "bcc", "resent-to", "resent-cc")
# Shorter than this after the "@" and the prefix says too little to pick one address.
_MIN_DOMAIN = 1
# A notice that pastes our headers as text (qmail's "--- Below this line is a copy of the message.").
_INLINE = LinePattern(lazy(r"^[ \t]*(?:to|cc|resent-to)[ \t]*:[ \t]*(.+(?:\r?\n[ \t]+\S.*)*)", re.I | re.M))


def returned_recipients(returned: Message | None, inline_text: str = "") -> list[str]:
    """The addresses of the returned message's To, Cc and Bcc (and Resent-) headers, in order, once each.

    Without an attached copy, the To and Cc lines of a copy pasted into the notice's text.
    """
    if returned is not None:
        values = _values(returned)
    else:
        values = [" ".join(m.group(1).split()) for m in _INLINE.finditer(inline_text[:100000])]
    out: list[str] = []
    addresses = _simple_addresses(values)
    if addresses is None:
        try:
            addresses = [address for _, address in address_pairs(values)]
        except UnreadableAddresses:  # the rest of the notice is still read
            addresses = []
    for address in addresses:
        address = address.strip()
        if "@" in address and address.lower() not in (a.lower() for a in out):
            out.append(address)
    return out


def _values(returned: Message) -> list[str]:
    """``[str(v) for name in _HEADERS for v in (returned.get_all(name) or [])]`` in one pass over the fields: each
    get_all lower-cased every field's name (five scans of the returned headers, a tenth of this module's time)."""
    found: dict[str, list[str]] = {name: [] for name in _HEADERS}
    fetch = returned.policy.header_fetch_parse
    for key, value in returned._headers:  # type: ignore[attr-defined]
        bucket = found.get(key.lower())
        if bucket is not None:
            bucket.append(str(fetch(key, value)))
    return [value for name in _HEADERS for value in found[name]]


# A header value of plain addresses, each bare or in angle brackets after a display name of plain words, comma
# separated: what email.utils.getaddresses reads such a value as is each address as written, so it is not run
# (its character-by-character parser was most of this module's time). Anything else (quotes, comments, groups,
# routes, dots or non-ASCII in a name, spaces inside an address) goes to getaddresses.
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+"
_DOMAIN = r"[A-Za-z0-9_.-]+"
_ELEMENT = rf"[ \t\r\n]*(?:(?:[A-Za-z0-9!#$%&'*+/=?^_`{{|}}~ \t\r\n-]*)<({_LOCAL}@{_DOMAIN})>|({_LOCAL}@{_DOMAIN}))[ \t\r\n]*"
_SIMPLE_VALUE = lazy(rf"{_ELEMENT}(?:,{_ELEMENT})*")
_SIMPLE_ELEMENT = lazy(_ELEMENT)


def _simple_addresses(values: list[str]) -> list[str] | None:
    """The addresses of `values` in order when every value is plain (see _SIMPLE_VALUE), else None."""
    out: list[str] = []
    for value in values:
        if not _SIMPLE_VALUE.fullmatch(value):
            return None
        out.extend(m.group(1) or m.group(2) for m in _SIMPLE_ELEMENT.finditer(value))
    return out


def completed(printed: str, known: list[str]) -> str | None:
    """The one known address that the printed one is a cut-off start of; None when it is not cut or not unique."""
    stem = printed.rstrip(".\u2026").lower()
    local, at, domain = stem.rpartition("@")
    if not at or not local or len(domain) < _MIN_DOMAIN:
        return None
    lowered = [a.lower() for a in known]
    if printed.lower() in lowered:
        return None
    matches = [a for a, low in zip(known, lowered, strict=True) if low.startswith(stem) and len(low) > len(stem)]
    return matches[0] if len(matches) == 1 else None


def complete(
    recipients: list[RecipientResult], returned: Message | None, problems: list[str], inline_text: str = "",
) -> list[RecipientResult]:
    """Each cut-off recipient replaced by the full address the returned headers give it; a note when one was."""
    if not recipients:  # nothing to complete: the returned headers' addresses are not read
        return recipients
    known = returned_recipients(returned, inline_text)
    if not known:
        return recipients
    listed = {x.address.lower() for x in recipients if x.address}
    out: list[RecipientResult] = []
    for r in recipients:
        full = completed(r.address, known) if r.address else None
        if full is not None and full.lower() not in listed:
            local, _, domain = full.rpartition("@")
            out.append(replace(r, address=f"{local}@{domain.lower()}"))
            if "recipient completed from the returned headers" not in problems:
                problems.append("recipient completed from the returned headers")
        else:
            out.append(r)
    return out
