"""A minimal TNEF writer for test messages, written from [MS-OXTNEF] (the format Exchange wraps receipts in as winmail.dat).

The stream: signature 0x223E9F78, a 16-bit key, then attributes. An attribute is a level byte (1: message),
a 32-bit id (type << 16 | id), a 32-bit length, the data and a 16-bit checksum (sum of the data bytes mod
65536). MAPI properties travel in attMsgProps as a counted list of (type, id, value); variable-length values
are a count, a length and the bytes padded to four.
"""

from __future__ import annotations

import struct
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

SIGNATURE = 0x223E9F78
ATT_TNEF_VERSION = 0x00089006
ATT_OEM_CODEPAGE = 0x00069007
ATT_MESSAGE_CLASS = 0x00078008
ATT_SUBJECT = 0x00018004
ATT_MSG_PROPS = 0x00069003

PT_UNICODE = 0x001F
PR_MESSAGE_CLASS = 0x001A
PR_SUBJECT = 0x0037
PR_BODY = 0x1000
PR_IN_REPLY_TO_ID = 0x1042


def _attribute(attr: int, data: bytes, level: int = 1) -> bytes:
    return struct.pack("<BII", level, attr, len(data)) + data + struct.pack("<H", sum(data) & 0xFFFF)


def _unicode_property(prop_id: int, text: str) -> bytes:
    raw = (text + "\x00").encode("utf-16-le")
    return struct.pack("<HHII", PT_UNICODE, prop_id, 1, len(raw)) + raw + b"\x00" * (-len(raw) % 4)


def tnef(message_class: str, subject: str, body: str, in_reply_to: str | None = None) -> bytes:
    props = [(PR_MESSAGE_CLASS, message_class), (PR_SUBJECT, subject), (PR_BODY, body)]
    if in_reply_to:
        props.append((PR_IN_REPLY_TO_ID, in_reply_to))
    mapi = struct.pack("<I", len(props)) + b"".join(_unicode_property(i, t) for i, t in props)
    return (
        struct.pack("<IH", SIGNATURE, 0x0101)
        + _attribute(ATT_TNEF_VERSION, struct.pack("<I", 0x00010000))
        + _attribute(ATT_OEM_CODEPAGE, struct.pack("<II", 1252, 0))
        + _attribute(ATT_MESSAGE_CLASS, message_class.encode("ascii") + b"\x00")
        + _attribute(ATT_SUBJECT, subject.encode("cp1252", "replace") + b"\x00")
        + _attribute(ATT_MSG_PROPS, mapi)
    )


def wrapped_message(blob: bytes, *, sender: str, subject: str | None, in_reply_to: str | None = None) -> bytes:
    """An Exchange-style MIME message whose only content is winmail.dat (the way it leaves an Exchange server)."""
    msg = MIMEMultipart("mixed")
    msg["From"] = sender
    msg["To"] = "receipts@helpdesk.example.com"
    if subject is not None:
        msg["Subject"] = subject
    msg["Date"] = "Mon, 02 Dec 2024 10:00:00 +0100"
    msg["Message-ID"] = "<tnef-receipt@exchange.example.net>"
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    msg.attach(MIMEText("", "plain", "utf-8"))
    part = MIMEApplication(blob, "ms-tnef", name="winmail.dat")
    part.add_header("Content-Disposition", "attachment", filename="winmail.dat")
    msg.attach(part)
    return msg.as_bytes()
