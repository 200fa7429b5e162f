"""Inbound header reading: the few header fields of a customer's answer that matching needs, from its header block alone.

Pure: bytes in, an `InboundHeaders` out. Only these fields are read (and
fetched over IMAP with BODY.PEEK[HEADER.FIELDS (...)]); a body is never looked
at. Bad input (no headers, undecodable bytes, broken encoded words) gives
empty fields, never an exception.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from email.header import decode_header, make_header

from maild.core.syntax import SIMPLE_MAILBOX, address_pairs

# What is fetched and read; everything else of the message stays where it is.
FIELDS = (
    "MESSAGE-ID", "IN-REPLY-TO", "REFERENCES", "FROM", "SENDER", "REPLY-TO", "DATE", "SUBJECT", "CONTENT-TYPE",
    "AUTO-SUBMITTED", "PRECEDENCE", "X-AUTOREPLY", "X-AUTORESPOND", "X-AUTORESPONDER", "X-AUTO-RESPONSE-SUPPRESS",
    "LIST-ID", "RETURN-PATH",
)
_WANTED = frozenset(f.lower() for f in FIELDS)
_MSGID = re.compile(r"<([^<>\s]{1,500})>")
MAX_HEADER_BYTES = 256 * 1024  # a header block bigger than this is cut: matching needs only the first fields
MAX_REFERENCES = 100  # a References chain is read from its end (the newest ids) up to this many


@dataclass(frozen=True, slots=True)
class InboundHeaders:
    message_id: str | None  # with angle brackets
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]  # oldest first, at most MAX_REFERENCES (the newest)
    from_: tuple[str, ...]  # addresses, lowercased
    sender: tuple[str, ...]
    reply_to: tuple[str, ...]
    date: str | None
    subject: str
    content_type: str
    auto_submitted: str
    precedence: str
    autoreply_headers: bool  # X-Autoreply, X-Autorespond, X-Autoresponder present
    response_suppress: bool  # X-Auto-Response-Suppress present (Exchange sets it on its own automatic mail)
    list_id: bool
    null_return_path: bool  # Return-Path: <> (a bounce or other automatic mail)
    digest: str  # sha256 of the header block: the key of an answer without a Message-ID

    @property
    def key(self) -> str:
        """What makes recording this answer idempotent: its Message-ID, else its header block's hash."""
        return f"mid:{self.message_id.lower()}" if self.message_id else f"sha256:{self.digest}"

    def referenced(self) -> tuple[str, ...]:
        """Message-IDs this answer names, most direct first: In-Reply-To, then References newest first."""
        return tuple(dict.fromkeys([*self.in_reply_to, *reversed(self.references)]))


def header_block(raw: bytes) -> bytes:
    """The header block of a message (up to the first empty line), at most MAX_HEADER_BYTES."""
    head = raw[:MAX_HEADER_BYTES]
    for sep in (b"\r\n\r\n", b"\n\n"):
        end = head.find(sep)
        if end >= 0:
            return head[: end + len(sep)]
    return head


def _fields(block: bytes) -> dict[str, str]:
    """The wanted fields (first occurrence each, unfolded), decoded as UTF-8 or Latin-1."""
    text = block.decode("utf-8", "replace") if _valid_utf8(block) else block.decode("latin-1")
    out: dict[str, str] = {}
    name: str | None = None
    for line in re.split(r"\r?\n", text):
        if not line:
            break
        if line[0] in " \t":
            if name is not None and name in out and name in _WANTED:
                out[name] += " " + line.strip()
            continue
        head, sep, value = line.partition(":")
        if not sep:
            name = None
            continue
        key = head.strip().lower()
        if key in out:
            name = None  # a second Message-ID or From never replaces the first
            continue
        name = key
        if key in _WANTED:
            out[key] = value.strip()
    return out


def _valid_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _decoded(value: str) -> str:
    try:
        return str(make_header(decode_header(value)))
    except (ValueError, LookupError, UnicodeError):
        return value


def _addresses(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    simple = SIMPLE_MAILBOX.fullmatch(value)  # "Name <a@b>" or a@b: most From lines, without the full RFC 5322 parser
    if simple is not None:
        return ((simple.group(1) or simple.group(2)).lower(),)
    try:
        pairs = address_pairs([value])
    except (ValueError, IndexError):  # UnreadableAddresses too
        return ()
    return tuple(dict.fromkeys(a.strip().lower() for _, a in pairs if "@" in a and " " not in a.strip()))


def _ids(value: str | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(f"<{m}>" for m in _MSGID.findall(value or "")))


def read_headers(raw: bytes) -> InboundHeaders:
    """The matching fields of one message (its whole bytes or its header block)."""
    block = header_block(raw)
    f = _fields(block)
    message_ids = _ids(f.get("message-id"))
    references = _ids(f.get("references"))[-MAX_REFERENCES:]
    return InboundHeaders(
        message_id=message_ids[0] if message_ids else None,
        in_reply_to=_ids(f.get("in-reply-to"))[:5],
        references=references,
        from_=_addresses(f.get("from")),
        sender=_addresses(f.get("sender")),
        reply_to=_addresses(f.get("reply-to")),
        date=f.get("date"),
        subject=_decoded(f.get("subject", ""))[:300],
        content_type=f.get("content-type", "").lower()[:200],
        auto_submitted=f.get("auto-submitted", "").strip().lower(),
        precedence=f.get("precedence", "").strip().lower(),
        autoreply_headers=any(k in f for k in ("x-autoreply", "x-autorespond", "x-autoresponder")),
        response_suppress="x-auto-response-suppress" in f,
        list_id="list-id" in f,
        null_return_path=f.get("return-path", "").replace(" ", "") == "<>",
        digest=hashlib.sha256(block).hexdigest(),
    )


# An automatic answer's subject as responders write it (Outlook, Exchange, Gmail, Apple, Zimbra, ...): the words lead.
_AUTO_SUBJECT = re.compile(
    r"^\s*(?:automatic reply|auto(?:matic)?[- ]?(?:reply|response|answer)|autoreply|out of (?:the )?office|"
    r"abwesenheitsnotiz|automatische antwort|réponse automatique|respuesta automática|risposta automatica|"
    r"resposta automática|automatisch antwoord|afwezigheidsbericht)\b",
    re.I,
)


def automatic(h: InboundHeaders) -> str | None:
    """Why this answer was written by a machine (RFC 3834 and the usual responder marks), or None for a person's.

    Auto-replies, out-of-office notices, list and bulk mail, bounces and reports are never a reply.
    """
    if h.auto_submitted and h.auto_submitted != "no":
        return "auto-submitted"  # RFC 3834: auto-replied, auto-generated, auto-notified
    if h.autoreply_headers:
        return "x-autoreply"
    if h.precedence in ("auto_reply", "auto-reply", "bulk", "junk", "list"):
        return "precedence"
    if h.null_return_path:
        return "null-return-path"
    if h.content_type.startswith("multipart/report"):
        return "report"
    if h.list_id:
        return "list"
    if _AUTO_SUBJECT.match(h.subject):
        return "subject"
    return None


def normalize(address: str) -> str:
    """An address as replies are matched: lowercased, without a +tag in the local part."""
    local, at, domain = address.strip().strip("<>").lower().rpartition("@")
    if not at:
        return address.strip().lower()
    return f"{local.split('+', 1)[0]}@{domain}"
