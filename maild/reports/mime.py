"""Safe MIME access for the parsers: compat32 parsing, header and body decoding, bounded walks, time budget."""

from __future__ import annotations

import base64
import binascii
import codecs
import re
import time
from collections.abc import Iterator
from email.message import Message

from maild.core.lazyre import lazy
from maild.reports import mimetree

# Charsets that are mislabelled in the wild map to the superset that decodes what senders really meant.
_CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "windows-31j": "cp932",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "us-ascii": "utf-8",  # declared ASCII often hides UTF-8; UTF-8 is a strict superset
    "ascii": "utf-8",
    "unknown-8bit": "utf-8",
    "x-unknown": "utf-8",
    "iso-2022-jp": "iso2022_jp_ext",
}

_ENCODED_WORD = lazy(r"=\?([^?\s]+)\?([bBqQ])\?([^?]*)\?=")
_BETWEEN_WORDS = lazy(r"(\?=)[ \t\r\n]+(=\?)")
_FOLD = lazy(r"\r?\n(?=[ \t])|\r(?=[ \t])")


class TimeLimit(Exception):
    """The per-message time budget ran out; the pipeline keeps what it has."""


class Budget:
    """A deadline on the parsing thread's CPU time, the parser's only use of a clock: it only cuts work short.

    CPU time, not wall time: a busy machine (other processes taking the cores) slows a parse down without the
    input being any harder, and must not cut a normal report short; a pathological input burns CPU.
    """

    __slots__ = ("deadline",)

    def __init__(self, seconds: float) -> None:
        self.deadline = time.thread_time() + seconds

    def check(self) -> None:
        if time.thread_time() > self.deadline:
            raise TimeLimit


def codec_for(charset: str | None) -> str:
    if not charset:
        return "utf-8"
    name = charset.strip().strip('"').lower().split("*", 1)[0]
    name = _CHARSET_ALIASES.get(name, name)
    try:
        return codecs.lookup(name).name
    except (LookupError, ValueError):
        return "utf-8"


def decode_bytes(data: bytes, charset: str | None) -> str:
    codec = codec_for(charset)
    if codec == "utf-8":
        if not charset and b"\x1b$" in data:
            # 7-bit ISO-2022-JP (its "ESC $ B" shifts) in a part that declares no charset: a Japanese Domino puts
            # its localised text in the status part's Diagnostic-Code so; as UTF-8 it would stay escape codes.
            try:
                return data.decode("iso2022_jp")
            except UnicodeDecodeError:
                pass
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            # Undeclared 8-bit text is more often a Windows code page than broken UTF-8.
            return data.decode("cp1252", "replace") if not _looks_utf8(data) else data.decode("utf-8", "replace")
    try:
        return data.decode(codec, "replace")
    except Exception:  # some codecs (iso2022) raise on odd state despite "replace"
        return data.decode("utf-8", "replace")


_UTF8_SAMPLE = 64 * 1024  # judged on the start: counting every 8-bit byte of a 10 MB body took 2 s of CPU (fuzzed)


def _looks_utf8(data: bytes) -> bool:
    data = data[:_UTF8_SAMPLE]
    return len(re.findall(rb"[\xc2-\xf4][\x80-\xbf]", data)) * 2 >= len(re.findall(rb"[\x80-\xff]", data)) > 0


def unsurrogate(value: str) -> str:
    """compat32 keeps raw 8-bit header bytes as surrogates; turn them back into text."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return decode_bytes(value.encode("utf-8", "surrogateescape"), None)


def _decode_word(match: re.Match[str]) -> str:
    charset, enc, text = match.group(1), match.group(2).lower(), match.group(3)
    try:
        if enc == "b":
            data = base64.b64decode(text + "=" * (-len(text) % 4), validate=False)
        else:
            data = binascii.a2b_qp(text.encode("ascii", "replace"), header=True)
    except (binascii.Error, ValueError):
        return match.group(0)
    return decode_bytes(data, charset)


MAX_HEADER_CHARS = 100_000  # of one header value decoded: a 1.4 MB Subject of encoded words took a second


def decode_header(value: str | None) -> str | None:
    """Unfold, decode RFC 2047 words leniently and strip; None stays None."""
    if value is None:
        return None
    value = str(value)[:MAX_HEADER_CHARS]
    if "\n" in value or "\r" in value:  # most values are one line: no substitution to run
        value = _FOLD.sub("", value)
    value = unsurrogate(value)
    if "=?" in value:
        value = _BETWEEN_WORDS.sub(r"\1\2", value)
        value = _ENCODED_WORD.sub(_decode_word, value)
    return value.replace("\r", " ").replace("\n", " ").strip()


def headers(msg: Message) -> dict[str, list[str]]:
    """Raw header values by lower-case name, in order; avoids compat32's Header objects."""
    out: dict[str, list[str]] = {}
    for name, value in msg._headers:  # type: ignore[attr-defined]  # raw_items() copies; this runs for every part
        out.setdefault(name.strip().lower(), []).append(value if isinstance(value, str) else str(value))
    return out


_HEADERS_KEY = "_maild_headers"  # where header() keeps a message's headers() (the parsers never change a header)


def header(msg: Message, name: str) -> str | None:
    """The first value of the named field, decoded; None when there is none.

    The returned message's headers are asked for one name after another (Return-Path, Message-ID, To, Cc, From...),
    each a scan of every field with its name lower-cased: they are read into headers() once per message instead."""
    found = msg.__dict__.get(_HEADERS_KEY)
    if found is None:
        found = msg.__dict__[_HEADERS_KEY] = headers(msg)
    values = found.get(name.lower())
    return decode_header(values[0]) if values else None


def content_type(part: Message) -> str:
    """The part's content type, computed once per part: every detector asks, and compat32 re-parses the header each time."""
    cached: str | None = part.__dict__.get(mimetree.CTYPE_KEY)  # mimetree sets it on every part it builds
    if cached is not None:
        return cached
    try:
        ctype = part.get_content_type()
    except Exception:
        ctype = "text/plain"
    part.__dict__[mimetree.CTYPE_KEY] = ctype
    return ctype


def param(part: Message, name: str) -> str | None:
    pairs = mimetree.content_params(part)
    if pairs is not None:
        name = name.lower()
        for key, found in pairs:
            if key.lower() == name:
                return found.strip().lower() if found else None
        return None
    try:
        value = part.get_param(name)
    except Exception:
        return None
    if isinstance(value, tuple):
        value = value[2]
    return str(value).strip().lower() if value else None


# The stdlib's email parser builds every part before any budget check can run: 50,000 parts took 11 s in one call.
# Past these counts nothing more is read (walk() stops at 500 parts, max_depth at 20 levels), so the input is cut there.
MAX_BOUNDARY_LINES = 600
MAX_MULTIPART_HEADERS = 100
# It also reads every line in Python (about 1 µs each: 9 MB of short lines took 8 s) and builds every header line.
MAX_LINES = 200_000  # a 10 MB base64 attachment is 140,000 lines
MAX_HEADER_LINES = 5000  # of the message's own header block; Postfix refuses more than 1,000 headers by default
# The stdlib reads a Content-Type's parameters (get_boundary, get_content_charset) in time quadratic in their count:
# a multipart type followed by 500,000 ';' took 55 s in the email parser. Real ones are a few dozen characters.
MAX_TYPE_CHARS = 2000
_FIELD_END = re.compile(rb"\n(?![ \t])")
# The stdlib parses each blank-line-separated block of a delivery-status part as a message: 10,000 took 2.4 s.
# The DSN reader reads 500 recipient blocks (dsn.MAX_RECIPIENTS); past twice that the input is cut.
MAX_STATUS_BLOCKS = 1000
# Matched in the lower-cased copy (bytes.lower() folds ASCII only, as re.I does on bytes): a literal prefix the
# regex engine can skip to, where re.I made it try every position (the three scans were 8% of a parse).
_STATUS_TYPE = re.compile(rb"message/(?:global-)?delivery-status")
_BLANK_LINE = re.compile(rb"\n\r?\n")


def _nth_line_start(raw: bytes, prefix: bytes, n: int) -> int | None:
    """Offset of the n-th line that starts with `prefix` (n from 1), or None when there are fewer."""
    at = -1
    for _ in range(n):
        at = raw.find(b"\n" + prefix, at + 1)
        if at < 0:
            return None
    return at + 1


def bounded(raw: bytes) -> tuple[bytes, str | None]:
    """`raw` cut where the stdlib's parser would run long (lines, header lines, parts, nesting, status blocks, long
    content types), and why; linear."""
    why: str | None = None
    # The line feeds counted once: each limit on lines needs at least that many, and most messages hold a few
    # hundred, so the scans for those limits (a third of this function) are skipped below them.
    lines = raw.count(b"\n")
    if lines >= MAX_HEADER_LINES:
        head, body = split_raw(raw)
        if head.count(b"\n") >= MAX_HEADER_LINES:
            # The last lines are kept: transit MTAs add theirs on top, the sender's own (MIME, Subject) come last.
            raw, why = b"\n".join(head.split(b"\n")[-MAX_HEADER_LINES:]) + b"\n\n" + body, "too many header lines: header cut"
            lines = raw.count(b"\n")
    if lines >= MAX_LINES:
        raw, why = raw[: _nth_line_start(raw, b"", MAX_LINES)], "too many lines: input cut"
    # One lower-cased copy for the case-insensitive scans; the first two steps only cut `raw` short, so a prefix of
    # the copy stays its lower-cased copy (and `lines` an upper bound of its line feeds).
    lowered = raw.lower()
    for step in (_parts_bounded, _status_blocks_bounded):
        raw, cut_why = step(raw, lowered, lines)
        lowered = lowered[: len(raw)]
        why = cut_why or why
    raw, cut_why = _types_bounded(raw, lowered)
    return raw, cut_why or why


def _parts_bounded(raw: bytes, lowered: bytes, lines: int) -> tuple[bytes, str | None]:
    """`raw` (with at most `lines` line feeds) cut before its MAX_BOUNDARY_LINES-th boundary-like line or
    MAX_MULTIPART_HEADERS-th multipart type, and why."""
    cuts: list[tuple[int, str]] = []
    if lines >= MAX_BOUNDARY_LINES and raw.count(b"\n--") >= MAX_BOUNDARY_LINES:
        at = _nth_line_start(raw, b"--", MAX_BOUNDARY_LINES)
        if at is not None:
            cuts.append((at, "too many MIME parts: input cut"))
    if lowered.count(b"multipart/") >= MAX_MULTIPART_HEADERS:
        at = -1
        for _ in range(MAX_MULTIPART_HEADERS):
            at = lowered.find(b"multipart/", at + 1)
        cuts.append((at, "MIME nesting too deep: input cut"))
    if not cuts:
        return raw, None
    at, why = min(cuts)
    return raw[:at], why


def _status_blocks_bounded(raw: bytes, lowered: bytes, lines: int) -> tuple[bytes, str | None]:
    """`raw` (with at most `lines` line feeds) cut at the MAX_STATUS_BLOCKS-th blank line inside delivery-status
    parts (counted over all of them), and why."""
    if lines // 2 <= MAX_STATUS_BLOCKS or raw.count(b"\n") // 2 <= MAX_STATUS_BLOCKS:  # each blank line counted holds two line feeds of its own
        return raw, None
    blocks, counted_to = 0, 0
    for match in _STATUS_TYPE.finditer(lowered):
        if match.end() < counted_to:  # a mention inside a part already counted: each byte is looked at once
            continue
        end = raw.find(b"\n--", match.end())
        counted_to = len(raw) if end < 0 else end
        for blank in _BLANK_LINE.finditer(raw, match.end(), counted_to):
            blocks += 1
            if blocks > MAX_STATUS_BLOCKS:
                return raw[: blank.start() + 1], "too many delivery status blocks: input cut"
    return raw, None


def _line_starts(lowered: bytes, prefix: bytes) -> Iterator[int]:
    """Offsets of the lines that start with `prefix` (where ``^prefix`` matches under re.M), in order."""
    if lowered.startswith(prefix):
        yield 0
    needle = b"\n" + prefix
    at = lowered.find(needle)
    while at >= 0:
        yield at + 1
        at = lowered.find(needle, at + 1)


def _types_bounded(raw: bytes, lowered: bytes) -> tuple[bytes, str | None]:
    """`raw` with each Content-Type field of its first parts cut to MAX_TYPE_CHARS, and why; linear."""
    pieces: list[bytes] = []
    kept_to = 0
    for index, start in enumerate(_line_starts(lowered, b"content-type:")):
        if index == 2 * MAX_BOUNDARY_LINES:  # past the parts the parser reads: the rest are lines of text
            break
        if start < kept_to:
            continue
        end = _FIELD_END.search(raw, start + len(b"content-type:"))
        field_end = len(raw) if end is None else end.start()
        if field_end - start > MAX_TYPE_CHARS:
            pieces.append(raw[kept_to : start + MAX_TYPE_CHARS])
            kept_to = field_end
    if not pieces:
        return raw, None
    pieces.append(raw[kept_to:])
    return b"".join(pieces), "content type too long: cut"


def parse(raw: bytes) -> tuple[Message, list[str]]:
    """The stdlib's compat32 tree (four times faster than the default policy; we decode headers ourselves), built by
    mimetree in one pass."""
    problems: list[str] = []
    raw, cut = bounded(raw)
    if cut is not None:
        problems.append(cut)
    try:
        msg = mimetree.parse_bytes(raw)
    except RecursionError:
        problems.append("nesting too deep for the MIME parser")
        head = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[0]
        msg = mimetree.parse_bytes(head + b"\n\n")
    return msg, problems


def walk(msg: Message, max_depth: int, *, into_messages: bool = False, max_parts: int = 500) -> Iterator[tuple[Message, int]]:
    """Depth-first parts with their depth; message/rfc822 attachments are opaque unless asked (a forwarded report is not ours)."""
    stack: list[tuple[Message, int]] = [(msg, 0)]
    seen = 0
    while stack and seen < max_parts:
        part, depth = stack.pop()
        seen += 1
        yield part, depth
        if depth >= max_depth:
            continue
        payload = part._payload  # type: ignore[attr-defined]
        if not isinstance(payload, list):
            continue
        ctype = content_type(part)
        # message/* parts are leaves here (compat32 splits delivery-status into header blocks, not parts).
        if ctype.startswith("message/") and not (into_messages and ctype in ("message/rfc822", "message/global")):
            continue
        for child in reversed(payload):
            if isinstance(child, Message):
                stack.append((child, depth + 1))


def _block_text(block: Message) -> str:
    lines = [f"{k}: {v}" for k, v in block._headers]  # type: ignore[attr-defined]
    payload = block._payload  # type: ignore[attr-defined]
    if isinstance(payload, str) and payload.strip():
        lines.append(payload)
    return "\n".join(lines)


def part_text(part: Message) -> str:
    """The decoded text of a leaf part, or of a message/* part compat32 split into header blocks (decoded once per part)."""
    cached: str | None = part.__dict__.get("_maild_text")
    if cached is None:
        cached = part.__dict__["_maild_text"] = _part_text(part)
    return cached


def _part_text(part: Message) -> str:
    payload = part._payload  # type: ignore[attr-defined]
    cte = str(part.get("content-transfer-encoding", "")).strip().lower()
    if isinstance(payload, list):
        # compat32 parses message/delivery-status (and other message/*) into header blocks; rebuild the text.
        text = "\n\n".join(_block_text(b) for b in payload if isinstance(b, Message))
        data = text.encode("utf-8", "surrogateescape")
        if cte == "base64":
            data = _b64(data)
        elif cte == "quoted-printable":
            data = binascii.a2b_qp(data)
    elif isinstance(payload, str):
        try:
            decoded = part.get_payload(decode=True)
        except Exception:
            decoded = None
        data = decoded if isinstance(decoded, bytes) else payload.encode("utf-8", "surrogateescape")
    else:
        return ""
    return decode_bytes(data, param(part, "charset"))


def _b64(data: bytes) -> bytes:
    cleaned = re.sub(rb"[^A-Za-z0-9+/=]", b"", data)
    cleaned = cleaned.split(b"=", 1)[0]
    try:
        return base64.b64decode(cleaned + b"=" * (-len(cleaned) % 4))
    except (binascii.Error, ValueError):
        return data


def defects(msg: Message, max_depth: int) -> set[str]:
    names: set[str] = set()
    for part, _ in walk(msg, max_depth):
        for defect in getattr(part, "defects", ()):
            names.add(type(defect).__name__)
    return names


def split_raw(raw: bytes) -> tuple[bytes, bytes]:
    """Header block and body of the raw bytes, at the first empty line whatever the line ends."""
    # The earliest of the four separators (no two can start at one offset), found by bytes.find: the regex tried
    # its alternatives at every offset of the header block. Each later search stops where the best so far starts.
    start, end = -1, -1
    lf = raw.find(b"\n\n")
    if lf >= 0 and raw.find(b"\r", 0, lf) < 0:
        # No CR before the first blank LF line (most mail as stored on Unix): the other three separators all hold a
        # CR, so none starts before it. One memchr instead of three scans of the header block.
        return raw[:lf], raw[lf + 2 :]
    for separator in _SEPARATORS:
        at = raw.find(separator, 0, start + len(separator) - 1 if start >= 0 else len(raw))
        if at >= 0:
            start, end = at, at + len(separator)
    if start < 0:
        return raw, b""
    return raw[:start], raw[end:]


_SEPARATORS = (b"\n\n", b"\r\n\r\n", b"\r\r", b"\n\r\n")
