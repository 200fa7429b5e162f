"""What a received message is to maild: its ticket, department, recipient kinds, and the headers to keep.

Pure: bytes and the tracking settings in, a `Classified` out; no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import getaddresses

from maild import rewrite
from maild.config import TrackingSettings
from maild.core.events import RecipientKind
from maild.spool import SpoolRecipient

_TICKET_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
# Headers a tracked copy must not carry from the helpdesk: maild sets its own.
_REPLACED_ON_TRACKED = ("Return-Path", "Disposition-Notification-To", "Bcc")


@dataclass(frozen=True, slots=True)
class Classified:
    ticket: str | None
    department: str | None
    message_id: str | None
    subject: str | None
    recipients: tuple[SpoolRecipient, ...]
    headers: bytes
    body: bytes
    tracked: bool


def addresses(values: list[str]) -> set[str]:
    return {addr.strip().lower() for _, addr in getaddresses(values) if "@" in addr}


def find_ticket(headers: bytes | list[rewrite.Field], policy: TrackingSettings) -> str | None:
    value = rewrite.get(headers, policy.ticket_header)
    if value and _TICKET_RE.fullmatch(value.strip()):
        return value.strip()
    subject = rewrite.get(headers, "Subject") or ""
    m = policy.subject_pattern.search(subject)
    return m.group(1) if m else None


def find_department(headers: bytes | list[rewrite.Field], sender: str, policy: TrackingSettings) -> str | None:
    value = rewrite.get(headers, policy.department_header)
    if value and value.strip():
        return value.strip()[:200]
    candidates = [sender.lower(), *sorted(addresses(rewrite.get_all(headers, "From")))]
    for address in candidates:
        if address in policy.sender_departments:
            return policy.sender_departments[address]
    return None


def recipient_kinds(headers: bytes | list[rewrite.Field], envelope: list[str]) -> tuple[SpoolRecipient, ...]:
    """To and Cc come from the headers; an envelope recipient named in neither is Bcc. To wins over Cc."""
    to = addresses(rewrite.get_all(headers, "To"))
    cc = addresses(rewrite.get_all(headers, "Cc"))
    out = []
    seen = set()
    for address in envelope:
        low = address.lower()
        if low in seen:  # the same recipient twice gets one copy
            continue
        seen.add(low)
        kind = RecipientKind.TO if low in to else RecipientKind.CC if low in cc else RecipientKind.BCC
        out.append(SpoolRecipient(address, kind))
    return tuple(out)


def classify(
    raw: bytes, sender: str, envelope: list[str], policy: TrackingSettings, *, fallback_message_id: str | None = None
) -> Classified:
    """`fallback_message_id` is given to tracked mail that has none (as Postfix's cleanup adds one):
    read receipts and bounces name the original by its Message-ID."""
    headers, body = rewrite.split_message(raw)
    parsed = list(rewrite.fields(headers))  # once: every lookup below reads this list
    ticket = find_ticket(parsed, policy)
    tracked = ticket is not None or policy.track_without_ticket
    department = find_department(parsed, sender, policy)
    if tracked:
        internal = (policy.ticket_header, policy.department_header, *policy.strip_headers, *_REPLACED_ON_TRACKED)
        kept = rewrite.strip(headers, internal)
    else:
        # relayed untouched but for Bcc:, which would tell every recipient who else got it (Postfix's cleanup drops it too)
        kept = rewrite.strip(headers, ("Bcc",)) if rewrite.get(parsed, "Bcc") is not None else headers
    message_id = (rewrite.get(parsed, "Message-ID") or "").strip() or None
    if tracked and message_id is None and fallback_message_id:
        message_id = fallback_message_id
        kept = rewrite.prepend(kept, [("Message-ID", message_id)])
    return Classified(
        ticket=ticket,
        department=department,
        message_id=message_id,
        subject=rewrite.get(parsed, "Subject"),
        recipients=recipient_kinds(parsed, envelope),
        headers=kept,
        body=body,
        tracked=tracked,
    )
