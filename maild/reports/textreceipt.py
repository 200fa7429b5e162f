"""Read receipts sent as text, HTML or TNEF instead of RFC 8098 (Outlook/Exchange "Read:"/"Not read:", Lotus Notes "Return Receipt").

The languages are rows of ``receipt_locales``. A receipt needs three signs, so a human reply whose subject
starts "Read:" never passes for one: a receipt subject prefix (or Exchange's report message class), the
receipt's sentence in the body, and something tying it to a message of ours (In-Reply-To/References or the
quoted subject). The body is the plain text, else the flattened HTML, else the text inside a TNEF part.
"""

from __future__ import annotations

import re

from maild.core.lazyre import lazy
from maild.reports import tnef
from maild.reports.context import Context, Finding
from maild.reports.clues import message_ids
from maild.reports.fields import all_addresses
from maild.reports.model import RecipientResult, ReportKind
from maild.reports.receipt_locales import LOCALES


def _alternatives(phrases: list[str]) -> str:
    return "|".join(phrases)


_UNREAD_PREFIXES = sorted({p for row in LOCALES for p in row.unread_subjects}, key=lambda p: (-len(p), p))
_READ_PREFIXES = sorted({p for row in LOCALES for p in row.read_subjects} - set(_UNREAD_PREFIXES), key=lambda p: (-len(p), p))
# "Unread" prefixes first so "Not read:" never reads as "read:"; longest first, then in order, so that the pattern is
# the same in every process (a set's order is not: core.recache keeps the compiled pattern under its text).
_SUBJECT = lazy(
    r"^\s*(?P<prefix>" + "|".join(re.escape(p) for p in _UNREAD_PREFIXES + _READ_PREFIXES) + r")\s*[:：]\s*(?P<rest>.*)$",
    re.I | re.S,
)
_NOTES_SUBJECT = lazy(r"^\s*(?:return receipt|empfangsbestätigung|accusé de réception|confirmación de lectura|ricevuta di ritorno)\b", re.I)

# The sentence a receipt body is built around; matched on the body with its whitespace collapsed.
_READ_BODY = lazy(_alternatives([p for row in LOCALES for p in row.read_body]), re.I | re.S)
_UNREAD_BODY = lazy(_alternatives([p for row in LOCALES for p in row.unread_body]), re.I | re.S)
_QUOTED_HEADERS = lazy(
    r"^[ \t]*(?:" + "|".join(sorted({re.escape(label) for row in LOCALES for label in row.subject_labels})) + r")\s*[:：]",
    re.I | re.M,
)


def detect(ctx: Context) -> Finding | None:
    subject = ctx.subject
    wrapped: tnef.TnefMessage | None = None
    match = _SUBJECT.match(subject)
    notes = _NOTES_SUBJECT.match(subject) is not None
    body = ctx.body_text[:20000]
    if not body.strip() or (match is None and not notes):
        # Exchange may put the whole receipt, subject included, inside winmail.dat.
        wrapped = tnef.wrapped(ctx)
        if wrapped is not None:
            body = (body + "\n" + wrapped.body)[:20000]
            if match is None and not notes and wrapped.subject:
                match = _SUBJECT.match(wrapped.subject)
    klass = wrapped.message_class if wrapped else None
    by_class = klass in (tnef.READ_CLASS, tnef.UNREAD_CLASS)
    if not match and not notes and not by_class:
        return None
    flat = " ".join(body.split())
    read_body = _READ_BODY.search(flat) is not None
    unread_body = _UNREAD_BODY.search(flat) is not None
    if not (read_body or unread_body or by_class):
        return None
    refs = message_ids(ctx.header("in-reply-to")) + list(reversed(message_ids(ctx.header("references"))))
    if not refs and wrapped is not None:
        refs = message_ids(wrapped.in_reply_to) + list(reversed(message_ids(wrapped.references)))
    if not refs and not _QUOTED_HEADERS.search(body) and not notes:
        # Neither a reference nor the quoted subject and date: nothing ties this to a message of ours.
        return None
    unread_subject = match is not None and match.group("prefix").lower() in _UNREAD_PREFIXES
    if by_class:
        disposition = "deleted" if klass == tnef.UNREAD_CLASS else "displayed"
    elif unread_subject or (unread_body and not read_body):
        disposition = "deleted"
    else:
        disposition = "displayed"
    senders = all_addresses(ctx.header("from") or "") or all_addresses(ctx.header("sender") or "")
    recipient = RecipientResult(
        address=senders[0] if senders else None,
        original_recipient=None,
        action=None,
        status=None,
        reason=None,
        hard=None,
        diagnostic=None,
        remote_mta=None,
        disposition=disposition,
        disposition_modifiers=("text-receipt",),
    )
    ctx.note("tnef read receipt" if wrapped is not None and (by_class or not ctx.body_text.strip()) else "text read receipt")
    return Finding(
        kind=ReportKind.MDN,
        recipients=[recipient] if recipient.address else [],
        original_message_id=refs[0] if refs else None,
        reporting_ua=ctx.header("x-mailer") or ctx.header("user-agent"),
    )
