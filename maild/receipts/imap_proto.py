"""Pure helpers for the IMAP source: reading aioimaplib responses and writing UID sets and mailbox names."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]", re.I)
_FETCH_HEAD = re.compile(rb"^\d+ FETCH \(", re.I)
_UID = re.compile(rb"\bUID (\d+)", re.I)
_LITERAL = re.compile(rb"\{(\d+)\}$")
_NEW_MAIL = re.compile(rb"^\d+ (EXISTS|RECENT)\b", re.I)
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)", re.I)


def quote(mailbox: str) -> str:
    """A mailbox name as an IMAP quoted string (folders with spaces or quotes stay one argument)."""
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


def uidvalidity(lines: Iterable[bytes | bytearray]) -> int | None:
    """UIDVALIDITY from a SELECT response."""
    for line in lines:
        if isinstance(line, (bytes, bytearray)):
            m = _UIDVALIDITY.search(bytes(line))
            if m:
                return int(m.group(1))
    return None


def search_uids(lines: Sequence[bytes | bytearray], above: int = 0) -> list[int]:
    """UIDs from a UID SEARCH response (aioimaplib strips the '* SEARCH' prefix), only those above `above`.

    `UID n:*` also returns the last message when every UID is below n (RFC 3501
    §6.4.8), hence the filter.
    """
    found: set[int] = set()
    for line in lines[:-1] if lines else []:
        text = bytes(line).strip()
        if text.upper().startswith(b"SEARCH"):
            text = text[6:].strip()
        if text and all(part.isdigit() for part in text.split()):
            found.update(int(part) for part in text.split())
    return sorted(u for u in found if u > above)


def fetched_messages(lines: Sequence[bytes | bytearray]) -> list[tuple[int, bytes]]:
    """(uid, raw message) pairs from a UID FETCH ... (BODY.PEEK[]) response, in the order received.

    A response item is `N FETCH (UID u BODY[] {size}`, the literal, then `)`;
    the UID may also come after the literal (`BODY[] {size}`, literal, ` UID u)`).
    """
    out: list[tuple[int, bytes]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if isinstance(line, bytes) and _FETCH_HEAD.match(line):
            uid_match = _UID.search(line)
            body: bytes | None = None
            if _LITERAL.search(line) and i + 1 < len(lines) and isinstance(lines[i + 1], bytearray):
                body = bytes(lines[i + 1])
                i += 1
                if uid_match is None and i + 1 < len(lines) and isinstance(lines[i + 1], bytes):
                    uid_match = _UID.search(lines[i + 1])
            if uid_match is not None and body is not None:
                out.append((int(uid_match.group(1)), body))
        i += 1
    return out


def fetched_sizes(lines: Sequence[bytes | bytearray]) -> dict[int, int]:
    """{uid: size} from a UID FETCH ... (UID RFC822.SIZE) response (`N FETCH (UID u RFC822.SIZE s)`, either order)."""
    out: dict[int, int] = {}
    for line in lines:
        if isinstance(line, bytes) and _FETCH_HEAD.match(line):
            uid_match, size_match = _UID.search(line), _SIZE.search(line)
            if uid_match is not None and size_match is not None:
                out[int(uid_match.group(1))] = int(size_match.group(1))
    return out


def size_groups(uids: Sequence[int], sizes: dict[int, int], budget: int) -> list[list[int]]:
    """`uids` in order, cut into runs whose sizes add up to at most `budget` (a bigger message alone in its run)."""
    groups: list[list[int]] = []
    current: list[int] = []
    total = 0
    for uid in uids:
        size = max(0, sizes.get(uid, 0))
        if current and total + size > budget:
            groups.append(current)
            current, total = [], 0
        current.append(uid)
        total += size
    if current:
        groups.append(current)
    return groups


def uid_set(uids: Iterable[int]) -> str:
    """A compact UID set: [1, 2, 3, 7, 9, 10] -> '1:3,7,9:10'."""
    ordered = sorted(set(uids))
    if not ordered:
        raise ValueError("empty UID set")
    parts: list[str] = []
    start = prev = ordered[0]
    for uid in ordered[1:]:
        if uid == prev + 1:
            prev = uid
            continue
        parts.append(f"{start}:{prev}" if start != prev else str(start))
        start = prev = uid
    parts.append(f"{start}:{prev}" if start != prev else str(start))
    return ",".join(parts)


def chunks(uids: Sequence[int], size: int) -> list[list[int]]:
    return [list(uids[i : i + size]) for i in range(0, len(uids), size)]


def announces_new_mail(push: object) -> bool:
    """True when an IDLE push (a list of untagged lines) says a message arrived."""
    if not isinstance(push, list):
        return False
    return any(isinstance(line, (bytes, bytearray)) and _NEW_MAIL.match(bytes(line)) for line in push)


def already_exists(lines: Sequence[bytes | bytearray]) -> bool:
    """A NO answer to CREATE because the folder is there (RFC 5530 ALREADYEXISTS, or older wording)."""
    text = b" ".join(bytes(x) for x in lines).upper()
    return b"ALREADYEXISTS" in text or b"ALREADY EXISTS" in text
