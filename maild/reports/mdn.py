"""RFC 8098 (and 3798, 2298) message disposition notifications, read leniently."""

from __future__ import annotations

import re

from maild.core.lazyre import lazy
from maild.reports import mime
from maild.reports.context import Context, Finding
from maild.reports.clues import message_id
from maild.reports.fields import address_of, all_addresses, parse_fields
from maild.reports.model import RecipientResult, ReportKind

MDN_TYPES = ("message/disposition-notification", "message/global-disposition-notification")
DISPOSITIONS = ("displayed", "deleted", "dispatched", "processed", "denied", "failed")
_DISPOSITION = lazy(
    r"^\s*(?:(?P<action>[\w-]+)\s*/\s*(?P<sending>[\w-]+)\s*;)?\s*(?P<type>[\w-]+)\s*(?:/\s*(?P<mods>[\w ,/-]+))?",
)
_TYPE_ANYWHERE = lazy(r"\b(" + "|".join(DISPOSITIONS) + r")\b", re.I)
_HAS_DISPOSITION = lazy(r"^[ \t]*disposition[ \t]*:", re.I | re.M)


def parse_disposition(value: str) -> tuple[str | None, tuple[str, ...]]:
    """(type, modifiers) from 'manual-action/MDN-sent-manually; displayed/error,warning', tolerating omissions."""
    match = _DISPOSITION.match(value)
    kind = match.group("type").lower() if match and match.group("type") else None
    modifiers: tuple[str, ...] = ()
    if match and match.group("mods"):
        modifiers = tuple(m.strip().lower() for m in re.split(r"[,/]", match.group("mods")) if m.strip())
    if kind not in DISPOSITIONS:
        found = _TYPE_ANYWHERE.search(value)
        kind = found.group(1).lower() if found else None
    return kind, modifiers


def _report_text(ctx: Context) -> str | None:
    for part, _ in ctx.parts:
        if mime.content_type(part) in MDN_TYPES:
            if str(part.get("content-transfer-encoding", "")).strip().lower() == "base64":
                ctx.note("disposition part base64")
            return mime.part_text(part)
    # A disposition part labelled text/plain inside a report that says what it is.
    for part, _ in ctx.parts:
        if mime.content_type(part) == "multipart/report" and (mime.param(part, "report-type") or "").startswith("disposition-notification"):
            children = part._payload if isinstance(part._payload, list) else []  # type: ignore[attr-defined]
            for child in children[1:2]:
                text = mime.part_text(child)
                if _HAS_DISPOSITION.search(text):
                    ctx.note("disposition part mislabelled")
                    return text
    return None


def detect(ctx: Context) -> Finding | None:
    text = _report_text(ctx)
    if text is None:
        return None
    fields: dict[str, str] = {}
    for block in parse_fields(text):
        for name, value in block:
            fields.setdefault(name, value)
    disposition_value = fields.get("disposition")
    if not disposition_value:
        return None
    kind, modifiers = parse_disposition(disposition_value)
    if kind is None:
        ctx.note("unrecognised disposition")
    final = address_of(fields.get("final-recipient"))
    original = address_of(fields.get("original-recipient"))
    if final is None:
        # An empty Final-Recipient: the reader is whoever sent the notification.
        senders = all_addresses(ctx.header("from") or "")
        final = original or (senders[0] if senders else None)
        ctx.note("final-recipient missing or empty")
    original_id = message_id(fields.get("original-message-id"))
    if original_id is None:
        for candidate in (mime.header(ctx.returned, "message-id") if ctx.returned else None, ctx.header("in-reply-to")):
            original_id = message_id(candidate)
            if original_id:
                break
    recipient = RecipientResult(
        address=final,
        original_recipient=original,
        action=None,
        status=None,
        reason=None,
        hard=None,
        diagnostic=fields.get("failure") or fields.get("error") or fields.get("warning") or None,
        remote_mta=None,
        disposition=kind,
        disposition_modifiers=modifiers,
    )
    return Finding(
        kind=ReportKind.MDN,
        recipients=[recipient],
        reporting_ua=fields.get("reporting-ua") or None,
        original_message_id=original_id,
    )
