"""From spool rows to copies on the wire: one per tracked recipient with its VERP sender, or one for all when untracked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from maild import logs, rewrite
from maild.delivery import protocol
from maild.delivery.client import Envelope
from maild.pixel.html import add_pixel

log = logs.get("delivery.copies")


@dataclass(frozen=True, slots=True)
class DueRecipient:
    """A recipient the scheduler picked: its row as it was when picked."""

    id: int
    message: int
    address: str
    token: str | None
    attempts: int


@dataclass(frozen=True, slots=True)
class SpoolMessage:
    id: int
    queue_id: str
    sender: str
    tracked: bool
    receipts_requested: bool
    received_at: datetime
    headers: bytes
    body: bytes
    pixel: bool = False  # the department has the open pixel on (and receipts on)


@dataclass(frozen=True, slots=True)
class Copy:
    """What one transaction sends: an envelope sender, recipients and the exact bytes."""

    message: int
    queue_id: str
    received_at: datetime
    sender: str
    recipients: tuple[DueRecipient, ...]
    data: bytes
    token: str | None  # tracked copies: ENVID and the token in the sender

    @property
    def tracked(self) -> bool:
        return self.token is not None


@dataclass(frozen=True, slots=True)
class DsnRequest:
    notify: str  # "SUCCESS,FAILURE,DELAY"
    ret: str  # "HDRS" or "FULL"


_RECEIPT_SUPPRESSORS = ("RN", "NRN")


def verp_address(return_path: str, delimiter: str, token: str) -> str:
    """receipts@example.com + token -> receipts+token@example.com."""
    local, _, domain = return_path.rpartition("@")
    return f"{local}{delimiter}{token}@{domain}"


def plan(
    messages: dict[int, SpoolMessage], due: list[DueRecipient], *, return_path: str, delimiter: str,
    pixel_base_url: str = "",
) -> list[Copy]:
    """Group picked recipients into copies; recipients whose message is missing are skipped.

    With `pixel_base_url`, a tracked copy of a department with the pixel on gets the open pixel in its HTML
    parts (maild.pixel.html: a DKIM-signed message is left as it is).
    """
    copies: list[Copy] = []
    untracked: dict[int, list[DueRecipient]] = {}
    for rcpt in due:
        msg = messages.get(rcpt.message)
        if msg is None:
            continue
        if not msg.tracked or rcpt.token is None:
            untracked.setdefault(msg.id, []).append(rcpt)
            continue
        sender = verp_address(return_path, delimiter, rcpt.token)
        headers = msg.headers
        if msg.receipts_requested:
            # GLPI stamps every notification "X-Auto-Response-Suppress: OOF, DR, NDR, RN, NRN": RN/NRN tell
            # Outlook never to send the read receipt this department asked for. No open-source helpdesk
            # DKIM-signs its mail and maild sits before the signing MTA, so no signature covers the header.
            headers = rewrite.drop_tokens(headers, "X-Auto-Response-Suppress", _RECEIPT_SUPPRESSORS)
            headers = rewrite.prepend(headers, [("Disposition-Notification-To", f"<{sender}>")])
        data = headers + msg.body
        if msg.pixel and pixel_base_url:
            data = with_pixel(data, pixel_url(pixel_base_url, rcpt.token), msg.queue_id)
        copies.append(Copy(msg.id, msg.queue_id, msg.received_at, sender, (rcpt,), data, rcpt.token))
    for message_id, rcpts in untracked.items():
        msg = messages[message_id]
        copies.append(Copy(msg.id, msg.queue_id, msg.received_at, msg.sender, tuple(rcpts), msg.headers + msg.body, None))
    return copies


def pixel_url(base_url: str, token: str) -> str:
    """The image of one copy: BASE/o/TOKEN.gif (the token names the recipient and is checked when fetched)."""
    return f"{base_url.rstrip('/')}/o/{token}.gif"


def with_pixel(data: bytes, url: str, queue_id: str) -> bytes:
    result = add_pixel(data, url)
    if result.skipped == "dkim_signed":
        log.warning("pixel_skipped_dkim_signed", queue_id=queue_id,
                    note="the message is DKIM-signed: adding the image would break the signature; put maild before the signing MTA")
    return result.data


def envelope(copy: Copy, extensions: dict[str, str], dsn: DsnRequest | None) -> Envelope:
    """The MAIL/RCPT parameters for this copy given what the upstream offers (EHLO keywords)."""
    mail: list[str] = []
    if "SIZE" in extensions:
        mail.append(f"SIZE={len(copy.data)}")
    if "8BITMIME" in extensions and protocol.needs_8bitmime(copy.data):
        mail.append("BODY=8BITMIME")
    addresses = (copy.sender, *(r.address for r in copy.recipients))
    if "SMTPUTF8" in extensions and not all(a.isascii() for a in addresses):
        mail.append("SMTPUTF8")
    rcpt: tuple[tuple[str, ...], ...] = ()
    if dsn is not None and copy.token is not None and "DSN" in extensions:
        mail += [f"RET={dsn.ret}", f"ENVID={protocol.xtext(copy.token)}"]
        rcpt = tuple(
            (f"NOTIFY={dsn.notify}", f"ORCPT=rfc822;{protocol.xtext(r.address)}") for r in copy.recipients
        )
    return Envelope(copy.sender, tuple(r.address for r in copy.recipients), tuple(mail), rcpt)
