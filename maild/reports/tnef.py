"""Exchange's TNEF wrapping (winmail.dat, application/ms-tnef) opened with tnefparse: what a wrapped receipt says.

Exchange sends some read receipts as a TNEF blob only: the MIME body is empty or a stub, and the subject,
the receipt's sentence and the MAPI message class (``REPORT.IPM.Note.IPNRN``: read; ``...IPNNRN``: not read)
are inside. tnefparse is imported on the first TNEF part: most mail never has one.
"""

from __future__ import annotations

from maild.core.frozen import frozen
from maild.reports import mime
from maild.reports.context import Context, flatten_html

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)
if TYPE_CHECKING:
    from typing import Any

TNEF_TYPES = ("application/ms-tnef", "application/vnd.ms-tnef")
READ_CLASS = "report.ipm.note.ipnrn"
UNREAD_CLASS = "report.ipm.note.ipnnrn"

# MAPI property ids ([MS-OXPROPS]).
_PR_MESSAGE_CLASS = 0x001A
_PR_SUBJECT = 0x0037
_PR_BODY = 0x1000
_PR_INTERNET_REFERENCES = 0x1039
_PR_IN_REPLY_TO_ID = 0x1042
_ATT_MESSAGE_CLASS = 0x8008
_ATT_SUBJECT = 0x8004
_MAX_TNEF = 2_000_000  # a receipt is small; a bigger blob is an attachment, not a receipt


@frozen
class TnefMessage:
    message_class: str | None  # lower-case
    subject: str | None
    body: str
    in_reply_to: str | None
    references: str | None


def wrapped(ctx: Context) -> TnefMessage | None:
    """The first TNEF part's message, or None when there is none or it cannot be read."""
    for part, _ in ctx.parts:
        ctype = mime.content_type(part)
        if ctype in TNEF_TYPES or ctype == "application/octet-stream" and (mime.param(part, "name") or "").endswith("winmail.dat"):
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes) and 0 < len(payload) <= _MAX_TNEF:
                found = read(payload)
                if found is None:
                    ctx.note("unreadable tnef part")
                return found
    return None


def read(data: bytes) -> TnefMessage | None:
    """Decode one TNEF blob; None for anything tnefparse cannot make sense of (never raises)."""
    try:
        tnef = _decode(data)
    except Exception:  # a third-party decoder on untrusted bytes: any failure is "not readable"
        return None
    props = {p.name: _text(p.data) for p in tnef.mapiprops}
    attrs = {o.name: _text(o.data) for o in tnef.msgprops}
    body = _text(tnef.body) or ""
    if not body and tnef.htmlbody:
        body = flatten_html(_text(tnef.htmlbody) or "")
    klass = props.get(_PR_MESSAGE_CLASS) or attrs.get(_ATT_MESSAGE_CLASS)
    return TnefMessage(
        message_class=klass.strip().lower() if klass else None,
        subject=props.get(_PR_SUBJECT) or attrs.get(_ATT_SUBJECT),
        body=body,
        in_reply_to=props.get(_PR_IN_REPLY_TO_ID),
        references=props.get(_PR_INTERNET_REFERENCES),
    )


def _decode(data: bytes) -> Any:  # tnefparse is untyped
    import logging

    from tnefparse import TNEF  # type: ignore[import-untyped]

    # tnefparse logs malformed input at warning level; bad mail is data here, and stderr is the operator's.
    logging.getLogger("tnefparse").setLevel(logging.CRITICAL)
    return TNEF(data, do_checksum=False)


def _text(value: object) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, bytes):
        value = mime.decode_bytes(value, None)
    if not isinstance(value, str):
        return None
    return value.replace("\x00", "").strip() or None
