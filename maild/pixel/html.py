"""Adding the open pixel to a message: a one-pixel image in each text/html part, every other byte left as it was.

Pure: message bytes in, message bytes out. The MIME structure is walked on
the raw bytes (boundaries found as delimiter lines, RFC 2046 §5.1.1), so
headers, preambles, other parts and their encodings are copied byte for byte;
only a text/html part's body is decoded (7bit/8bit/binary as is,
quoted-printable, base64), given the image before its last `</body>` (or at
its end), and encoded again with the same Content-Transfer-Encoding. A
message that carries a DKIM-Signature is left untouched (changing the body
would break the signature: maild belongs before the signing MTA), as is a
part in a charset that is not ASCII-compatible (UTF-16/32), and anything
maild cannot read as MIME.
"""

from __future__ import annotations

import base64
import binascii
import html
import quopri
import re
from dataclasses import dataclass

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_PARAM = re.compile(rb'''(?i);\s*([a-z0-9*_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))''')
_BODY_END = re.compile(rb"(?i)</body\s*>")
_UNSAFE_CHARSET = re.compile(rb"(?i)utf-?(?:16|32)|ucs-?[24]")
MAX_DEPTH = 20


@dataclass(frozen=True, slots=True)
class PixelResult:
    data: bytes
    added: int  # text/html parts that got the image
    skipped: str | None = None  # why nothing was changed: dkim_signed, no_html, not_mime


def image_tag(url: str) -> bytes:
    src = html.escape(url, quote=True)
    return (f'<img src="{src}" width="1" height="1" alt="" '
            f'style="display:block;border:0;width:1px;height:1px">').encode("ascii")


def _split(entity: bytes) -> tuple[bytes, bytes, bytes] | None:
    """(header block, separator, body) of a MIME entity; None when it has no header/body separator."""
    m = _HEADER_END.search(entity)
    if m is None:
        return None
    return entity[: m.start()], entity[m.start() : m.end()], entity[m.end() :]


def _field(headers: bytes, name: bytes) -> bytes | None:
    """The unfolded value of the first header field `name` (case-insensitive)."""
    m = re.search(rb"(?im)^" + re.escape(name) + rb"[ \t]*:(.*(?:\r?\n[ \t].*)*)", headers)
    return None if m is None else re.sub(rb"\r?\n[ \t]", b" ", m.group(1)).strip()


def _content_type(headers: bytes) -> tuple[bytes, dict[bytes, bytes]]:
    value = _field(headers, b"content-type") or b"text/plain"
    kind = value.split(b";", 1)[0].strip().lower()
    params = {m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3)) for m in _PARAM.finditer(value)}
    return kind, params


def has_dkim_signature(message: bytes) -> bool:
    parts = _split(message)
    headers = parts[0] if parts else message
    return re.search(rb"(?im)^dkim-signature[ \t]*:", headers) is not None


def add_pixel(message: bytes, url: str) -> PixelResult:
    """The message with the image in each text/html part (see the module docstring)."""
    if has_dkim_signature(message):
        return PixelResult(message, 0, "dkim_signed")
    try:
        out, added = _entity(message, image_tag(url), 0)
    except (ValueError, binascii.Error):
        return PixelResult(message, 0, "not_mime")
    if added == 0:
        return PixelResult(message, 0, "no_html")
    return PixelResult(out, added)


def _entity(entity: bytes, tag: bytes, depth: int) -> tuple[bytes, int]:
    if depth > MAX_DEPTH:
        return entity, 0
    parts = _split(entity)
    if parts is None:
        return entity, 0
    headers, sep, body = parts
    kind, params = _content_type(headers)
    if kind.startswith(b"multipart/") and params.get(b"boundary"):
        parts_body, added = _multipart(body, params[b"boundary"], tag, depth)
        return headers + sep + parts_body, added
    if kind == b"text/html" and not _UNSAFE_CHARSET.search(params.get(b"charset", b"")):
        cte = (_field(headers, b"content-transfer-encoding") or b"7bit").lower()
        html_body = _html_body(body, cte, tag)
        return (headers + sep + html_body, 1) if html_body is not None else (entity, 0)
    return entity, 0


def _multipart(body: bytes, boundary: bytes, tag: bytes, depth: int) -> tuple[bytes, int]:
    """Each body part between the delimiter lines, rewritten where it holds HTML; delimiters and epilogue kept."""
    delimiter = re.compile(rb"(?m)(^|\r?\n)--" + re.escape(boundary) + rb"(--)?[ \t]*(?=\r?\n|$)")
    pieces: list[bytes] = []
    added = 0
    last = 0
    inside = False
    for m in delimiter.finditer(body):
        chunk = body[last : m.start()]
        if inside:
            chunk, n = _entity(chunk, tag, depth + 1)
            added += n
        pieces.append(chunk)
        pieces.append(m.group(0))
        last = m.end()
        if m.group(2):  # the close delimiter: the rest is the epilogue
            inside = False
            break
        inside = True
    pieces.append(body[last:])
    return b"".join(pieces), added


def _html_body(body: bytes, cte: bytes, tag: bytes) -> bytes | None:
    """The body with the image, in the same transfer encoding; None for an encoding maild does not rewrite."""
    newline = b"\r\n" if b"\r\n" in body or not body else b"\n"
    if cte in (b"7bit", b"8bit", b"binary"):
        return _insert(body, tag)
    if cte == b"quoted-printable":
        text = quopri.decodestring(body)
        encoded = quopri.encodestring(_insert(text.replace(b"\r\n", b"\n"), tag))
        return encoded.replace(b"\r\n", b"\n").replace(b"\n", newline)
    if cte == b"base64":
        text = base64.b64decode(re.sub(rb"\s+", b"", body), validate=True)
        encoded = base64.encodebytes(_insert(text, tag))
        return encoded.replace(b"\n", newline)
    return None


def _insert(text: bytes, tag: bytes) -> bytes:
    ends = list(_BODY_END.finditer(text))
    if ends:
        at = ends[-1].start()
        return text[:at] + tag + text[at:]
    stripped = text.rstrip(b"\r\n")
    return stripped + tag + text[len(stripped) :]
