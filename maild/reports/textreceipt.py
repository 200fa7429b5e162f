"""Read receipts sent as plain text (Outlook/Exchange "Read:"/"Not read:", Lotus Notes "Return Receipt"), in many languages."""

from __future__ import annotations

import re

from maild.reports.context import Context, Finding
from maild.reports.correlation import message_ids
from maild.reports.fields import all_addresses
from maild.reports.model import RecipientResult, ReportKind

# Subject prefixes Outlook and Exchange localise; "unread" ones first so "Not read:" never reads as "read:".
_UNREAD_PREFIXES = [
    "not read", "ungelesen", "nicht gelesen", "non lu", "no leído", "no leido", "non letto", "não lida", "nao lida",
    "não lido", "niet gelezen", "не прочитано", "непрочитано", "未读", "未讀", "未開封", "未読", "削除 (未開封)",
]
_READ_PREFIXES = [
    "read", "gelesen", "lu", "leído", "leido", "letto", "lida", "lido", "gelezen", "прочитано", "прочитан",
    "已读", "已讀", "開封済み", "开封", "已阅读", "læst", "läst", "lest", "luettu", "przeczytane", "přečteno",
]
_SUBJECT = re.compile(
    r"^\s*(?P<prefix>" + "|".join(re.escape(p) for p in _UNREAD_PREFIXES + _READ_PREFIXES) + r")\s*[:：]\s*(?P<rest>.*)$",
    re.I | re.S,
)
_NOTES_SUBJECT = re.compile(r"^\s*(?:return receipt|empfangsbestätigung|accusé de réception|confirmación de lectura|ricevuta di ritorno)\b", re.I)

# The sentence a receipt body is built around; a human reply that happens to say "Read:" has none of these.
_READ_BODY = re.compile(
    r"was read on|has been read|was read at|wurde am .{0,80}gelesen|wurde .{0,40}gelesen|a été lu|a ete lu|été lu le|"
    r"se leyó|fue leído|fue leido|ha sido leído|è stato letto|e stato letto|foi lida|foi lido|is gelezen|werd gelezen|"
    r"было прочитано|прочитано|已读|已被阅读|已於.{0,40}讀取|已读取|被阅读|開封されました|開封済み|閲覧されました|"
    r"your document:.{0,400}was received by|ihr dokument:.{0,400}wurde von",
    re.I | re.S,
)
_UNREAD_BODY = re.compile(
    r"deleted without being read|was deleted .{0,40}without being read|not read|ungelesen gelöscht|ohne .{0,30}gelesen .{0,20}gelöscht|"
    r"supprimé sans (?:avoir été )?lu|sans avoir été lu|eliminó sin (?:haber sido )?leído|eliminado sin leer|sin leerse|"
    r"eliminato senza essere letto|excluída sem ter sido lida|excluída sem ser lida|verwijderd zonder|zonder te (?:zijn )?gelezen|"
    r"удалено без прочтения|未读|未阅读|未讀|開封されずに削除|未開封",
    re.I | re.S,
)
_QUOTED_HEADERS = re.compile(r"^\s*(?:subject|betreff|objet|asunto|oggetto|assunto|onderwerp|件名|主题|主題|тема)\s*[:：]", re.I | re.M)


def detect(ctx: Context) -> Finding | None:
    subject = ctx.subject
    match = _SUBJECT.match(subject)
    notes = _NOTES_SUBJECT.match(subject) is not None
    if not match and not notes:
        return None
    body = ctx.body_text[:20000]
    unread_subject = match is not None and match.group("prefix").lower() in _UNREAD_PREFIXES
    read_body = _READ_BODY.search(body) is not None
    unread_body = _UNREAD_BODY.search(body) is not None
    if not (read_body or unread_body):
        return None
    refs = message_ids(ctx.header("in-reply-to")) + list(reversed(message_ids(ctx.header("references"))))
    if not refs and not _QUOTED_HEADERS.search(body) and not notes:
        # Neither a reference nor the quoted subject and date: nothing ties this to a message of ours.
        return None
    disposition = "deleted" if unread_subject or (unread_body and not read_body) or (unread_body and unread_subject) else "displayed"
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
    ctx.note("text read receipt")
    return Finding(
        kind=ReportKind.MDN,
        recipients=[recipient] if recipient.address else [],
        original_message_id=refs[0] if refs else None,
        reporting_ua=ctx.header("x-mailer") or ctx.header("user-agent"),
    )
