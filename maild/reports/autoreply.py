"""RFC 3834 auto-replies and out-of-office notices: evidence of delivery, never a bounce."""

from __future__ import annotations

import re

from maild.core.lazyre import lazy
from maild.core.reasons import Reason
from maild.reports.context import Context, Finding
from maild.reports.clues import message_ids
from maild.reports.fields import all_addresses
from maild.reports.model import RecipientResult, ReportKind

OOO_SUBJECT = lazy(
    r"out of (?:the )?office|auto(?:matic|matische|matique)?[- ]?(?:reply|response|antwort|answer|réponse|respuesta|risposta|resposta|antwoord)|"
    r"autoreply|auto-reply|vacation|on leave|away from (?:the )?office|abwesen|nicht im büro|außer haus|"
    r"absence|absent|réponse automatique|respuesta automática|fuera de la oficina|risposta automatica|fuori sede|"
    r"resposta automática|ausente|automatisch antwoord|afwezig|не в офисе|автоматический ответ|自动回复|自動回覆|自動応答|不在",
    re.I,
)
_LEADING_OOO = lazy(r"^[\s\[(]*(?:" + OOO_SUBJECT.pattern + r")\w*(?:[\s\w]{0,20}?)\s*(?:[:：\])\-–]|$)", re.I)
_OOO_BODY = lazy(
    r"\b(?:i am|i'm|i will be) (?:currently )?(?:out of (?:the )?office|away|on (?:vacation|holiday|leave)|absent)|"
    r"(?:ich bin|bin ich) .{0,40}(?:nicht im büro|abwesend|im urlaub)|je suis (?:absente?|en congés?)|estoy (?:fuera|de vacaciones|ausente)|"
    r"sono (?:assente|fuori ufficio|in ferie)|estou (?:ausente|fora do escritório|de férias)|ik ben (?:afwezig|met vakantie)|"
    r"limited access to (?:my )?e-?mail|will (?:respond|reply|get back to you) (?:to your (?:message|e-?mail) )?(?:when|upon|after) (?:i|my) return",
    re.I,
)
_BOUNCE_SENDER = lazy(r"mailer-daemon|postmaster|mail delivery|mail administrator", re.I)


def is_autoreply(ctx: Context) -> bool:
    auto = (ctx.header("auto-submitted") or "").lower()
    if auto.startswith("auto-replied"):
        return True
    if ctx.header("x-autoreply") or ctx.header("x-autorespond") or ctx.header("x-autoresponder"):
        return True
    if (ctx.header("x-auto-response-suppress") or "") and OOO_SUBJECT.search(ctx.subject):
        return True
    precedence = (ctx.header("precedence") or "").lower()
    if precedence.startswith("auto_reply") or precedence.startswith("auto-reply"):
        return True
    # A bulk or list precedence alone is a newsletter; only an out-of-office subject makes it a reply.
    if not (precedence in ("bulk", "junk", "") or auto.startswith("auto-generated")) or not OOO_SUBJECT.search(ctx.subject):
        return False
    # Without any auto-reply header the subject must read like a responder's, not like a person's "Re: vacation plans":
    # the out-of-office words lead it, or the body says so in the responder's stock phrases.
    return _LEADING_OOO.match(ctx.subject) is not None or _OOO_BODY.search(ctx.body_text[:2000]) is not None


def detect(ctx: Context) -> Finding | None:
    if _BOUNCE_SENDER.search(ctx.sender) or not is_autoreply(ctx):
        return None
    senders = all_addresses(ctx.header("from") or "") or all_addresses(ctx.header("reply-to") or "")
    first = " ".join(line.strip() for line in ctx.body_text.strip().splitlines()[:6] if line.strip())[:300] or None
    refs = message_ids(ctx.header("in-reply-to")) + list(reversed(message_ids(ctx.header("references"))))
    recipient = RecipientResult(
        address=senders[0] if senders else None,
        original_recipient=None,
        action=None,
        status=None,
        reason=Reason.VACATION,
        hard=False,
        diagnostic=first,
        remote_mta=None,
        disposition=None,
    )
    return Finding(
        kind=ReportKind.AUTOREPLY,
        recipients=[recipient] if recipient.address else [],
        original_message_id=refs[0] if refs else None,
    )
