"""What a received message is to maild: its ticket, department, recipient kinds, and the headers to keep.

Pure: bytes and the tracking settings in, an `Incoming` out; no I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

from maild import rewrite
from maild.config import TrackingSettings
from maild.core.events import RecipientKind
from maild.core.syntax import address_pairs
from maild.presets import match as presets
from maild.presets.model import Match, Preset
from maild.spool import SpoolRecipient

# Headers a tracked copy must not carry from the helpdesk: maild sets its own.
_REPLACED_ON_TRACKED = ("Return-Path", "Disposition-Notification-To", "Bcc")


@dataclass(frozen=True, slots=True)
class Incoming:
    ticket: str | None
    department: str | None
    message_id: str | None
    subject: str | None
    recipients: tuple[SpoolRecipient, ...]
    headers: bytes
    body: bytes
    tracked: bool
    preset: str = "generic"
    ids: Mapping[str, str] = field(default_factory=dict)
    skipped: str = ""  # why a message with a ticket is not tracked (a helpdesk's own notice)
    malformed: str = ""  # why a message that looked like a helpdesk's has no ticket


def addresses(values: list[str]) -> set[str]:
    return {addr.strip().lower() for _, addr in address_pairs(values) if "@" in addr}


WRITEBACK_MARK = b"maild write-back"  # maild.writeback.requests.MARK: every text maild writes into a helpdesk
_GENERIC: dict[tuple[str, str, str], Preset] = {}


def generic_preset(policy: TrackingSettings) -> Preset:
    key = (policy.ticket_header, policy.department_header, policy.subject_pattern.pattern)
    if key not in _GENERIC:
        _GENERIC[key] = presets.generic(policy.ticket_header, policy.department_header, policy.subject_pattern)
    return _GENERIC[key]


def find(headers: bytes | list[rewrite.Field], body: bytes, policy: TrackingSettings) -> Match:
    """Which preset applies and what it finds (see maild.presets.match)."""
    parsed = list(rewrite.fields(headers)) if isinstance(headers, bytes) else headers
    view = presets.View(parsed, body)
    preset, fingerprint = presets.choose(policy.preset, view, policy.presets, generic_preset(policy))
    return presets.apply(preset, view, fingerprint=fingerprint)


def sender_department(headers: bytes | list[rewrite.Field], sender: str, mapping: Mapping[str, str]) -> str | None:
    """The department of the From address (then the envelope sender): mapped by address, then by domain, else itself."""
    from_addrs = [a.strip().lower() for _, a in address_pairs(rewrite.get_all(headers, "From")) if "@" in a]
    candidates = [*from_addrs, *([sender.lower()] if "@" in sender else [])]
    for address in candidates:
        if address in mapping:
            return mapping[address]
    for address in candidates:
        domain = address.rpartition("@")[2]
        for key in (domain, "@" + domain):
            if key in mapping:
                return mapping[key]
    return candidates[0][:200] if candidates else None


def find_department(
    headers: bytes | list[rewrite.Field], sender: str, policy: TrackingSettings, found: Match | None = None
) -> str | None:
    if found is None:
        found = find(headers, b"", policy)
    return found.department or sender_department(headers, sender, policy.sender_departments)


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


def read_incoming(
    raw: bytes, sender: str, envelope: list[str], policy: TrackingSettings, *, fallback_message_id: str | None = None
) -> Incoming:
    """`fallback_message_id` is given to tracked mail that has none (as Postfix's cleanup adds one):
    read receipts and bounces name the original by its Message-ID."""
    headers, body = rewrite.split_message(raw)
    parsed = list(rewrite.fields(headers))  # once: every lookup below reads this list
    found = find(parsed, body, policy)
    if WRITEBACK_MARK in body:
        # a helpdesk's notice of a note maild wrote into it (GLPI mails technicians each follow-up): never tracked
        found = dataclasses.replace(found, skipped="echo of a maild write-back")
    ticket = found.ticket
    tracked = (ticket is not None or policy.track_without_ticket) and not found.skipped
    department = find_department(parsed, sender, policy, found)
    if tracked:
        internal = (policy.ticket_header, policy.department_header, *policy.strip_headers, *_REPLACED_ON_TRACKED)
        kept = rewrite.strip(parsed, internal)
    else:
        # relayed untouched but for Bcc:, which would tell every recipient who else got it (Postfix's cleanup drops it too)
        kept = rewrite.strip(parsed, ("Bcc",)) if rewrite.get(parsed, "Bcc") is not None else headers
    message_id = (rewrite.get(parsed, "Message-ID") or "").strip() or None
    if tracked and message_id is None and fallback_message_id:
        message_id = fallback_message_id
        kept = rewrite.prepend(kept, [("Message-ID", message_id)])
    return Incoming(
        ticket=ticket,
        department=department,
        message_id=message_id,
        subject=rewrite.get(parsed, "Subject"),
        recipients=recipient_kinds(parsed, envelope),
        headers=kept,
        body=body,
        tracked=tracked,
        preset=found.preset,
        ids=found.ids,
        skipped=found.skipped,
        malformed=found.malformed,
    )
