"""Header surgery on raw bytes: split a message, read fields, strip internal ones, prepend new ones.

This is the one place maild changes a message. It never re-serialises through
the email package: every byte it does not remove or add stays as received.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email.header import decode_header, make_header

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_FIELD_NAME = re.compile(rb"([!-9;-~]+)[ \t]*:")
_FOLD = re.compile(rb"\r?\n[ \t]")  # a line break inside a field and the blank after it


@dataclass(frozen=True, slots=True)
class Field:
    name: str  # as written
    raw: bytes  # the whole field, continuation lines and final line end included

    @property
    def value(self) -> str:
        """The unfolded value with RFC 2047 encoded words decoded; never raises."""
        _, _, value = self.raw.partition(b":")
        if b"\n " in value or b"\n\t" in value:  # folded: most fields are one line, and need no regex
            value = _FOLD.sub(b" ", value)
        text = value.strip().decode("utf-8", "replace")
        if "=?" not in text:
            return text
        try:
            return str(make_header(decode_header(text)))
        except Exception:  # a broken encoded word is shown as written
            return text


def split_message(raw: bytes) -> tuple[bytes, bytes]:
    """(header block including its last line end, the rest starting with the blank line).

    `headers + rest == raw` always, so joining them back is plain concatenation.
    No blank line: all header, empty rest.
    """
    m = _HEADER_END.search(raw)
    if m is None:
        return raw, b""
    first_eol = raw.index(b"\n", m.start()) + 1
    return raw[:first_eol], raw[first_eol:]


def line_end(headers: bytes) -> bytes:
    return b"\r\n" if b"\r\n" in headers[:2000] or not headers else b"\n"


def fields(headers: bytes) -> Iterator[Field]:
    """The header fields in order; a malformed leading line becomes a field named ''."""
    current: list[bytes] = []
    for line in headers.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t") and current:
            current.append(line)
            continue
        if current:
            yield _field(b"".join(current))
        current = [line]
    if current:
        yield _field(b"".join(current))


def _field(raw: bytes) -> Field:
    m = _FIELD_NAME.match(raw)
    return Field(m.group(1).decode("ascii") if m else "", raw)


def get(headers: bytes | list[Field], name: str) -> str | None:
    """The first field with this name (case-insensitive), decoded; takes raw headers or parsed fields."""
    lower = name.lower()
    for f in fields(headers) if isinstance(headers, bytes) else headers:
        if f.name.lower() == lower:
            return f.value
    return None


def get_all(headers: bytes | list[Field], name: str) -> list[str]:
    lower = name.lower()
    return [f.value for f in (fields(headers) if isinstance(headers, bytes) else headers) if f.name.lower() == lower]


def strip(headers: bytes | list[Field], names: Iterable[str]) -> bytes:
    """Remove every field whose name is in `names` (case-insensitive); the rest stays byte for byte.

    Takes raw headers or their parsed fields (intake has them already: the block is not split a second time).
    """
    drop = {n.lower() for n in names}
    if isinstance(headers, bytes):
        if not drop:
            return headers
        headers = list(fields(headers))
    return b"".join(f.raw for f in headers if f.name.lower() not in drop)


def prepend(headers: bytes, new_fields: Iterable[tuple[str, str]]) -> bytes:
    """Put new fields in front, with the block's own line ends. Values must be plain ASCII."""
    eol = line_end(headers)
    added = b"".join(f"{name}: {value}".encode("ascii") + eol for name, value in new_fields)
    return added + headers


def drop_tokens(headers: bytes, name: str, tokens: Iterable[str]) -> bytes:
    """Remove comma-separated tokens (case-insensitive) from every `name` field; a field left empty goes.

    Only the named tokens go: "OOF, DR, NDR, RN, NRN" less RN and NRN is
    "OOF, DR, NDR". Every other field stays byte for byte.
    """
    lower = name.lower()
    if lower.encode("ascii") not in headers.lower():
        return headers  # the common case, every tracked copy asking for receipts: no such field, no parse
    drop = {t.lower() for t in tokens}
    out = []
    changed = False
    for f in fields(headers):
        if f.name.lower() != lower:
            out.append(f.raw)
            continue
        items = [t.strip() for t in f.value.split(",") if t.strip()]
        kept = [t for t in items if t.lower() not in drop]
        if len(kept) == len(items):
            out.append(f.raw)
            continue
        changed = True
        if kept:
            eol = b"\r\n" if f.raw.endswith(b"\r\n") else b"\n"
            out.append(f"{f.name}: {', '.join(kept)}".encode("ascii", "replace") + eol)
    return b"".join(out) if changed else headers
