"""Non-standard bounces (qmail, Exim, Sendmail, Exchange, Notes, webmail providers…): addresses, status and diagnostic from the text."""

from __future__ import annotations

import functools
import re

from maild.core.lazyre import lazy
from maild.core.prefilter import LinePattern, lowered_for_literals
from maild.core.reason_rules import DEFAULT_STATUS, reason_for
from maild.core.reasons import Reason
from maild.reports import mime, retrying
from maild.reports.candidates import failed_addresses
from maild.reports.context import Context, Finding
from maild.reports.dsn import failure_status_of
from maild.reports.model import RecipientResult, ReportKind

BOUNCE_SENDER = lazy(
    r"mailer[-_ ]?daemon|post[-_]?master|mdaemon|mail delivery (?:subsystem|system|service)|mail administrator|delivery ?status|"
    r"\bbounces?\b|mail ?router|mailerdaemon|delivery[-_ ]?(?:notification|failure|report)|nobody@|mmdf|smtp gateway|"
    r"internet mail delivery|system administrator|mail transport|postoffice|microsoft outlook|microsoftexchange",
    re.I,
)
BOUNCE_SUBJECT = lazy(
    r"undeliver|undelivered|not (?:be )?delivered|delivery (?:status|failure|failed|notification|problem|report|has failed)|"
    r"returned mail|return(?:ed)? to sender|failure notice|mail delivery failed|delivery fail|nondeliver|non-deliver|non remis|"
    r"could not send|couldn't be delivered|message not delivered|mail system error|warning: could not|delayed mail|"
    r"delivery delayed|delivery notification|rejected|bounce|mail failure|failed mail|error sending|unzustellbar|"
    r"nicht zustellbar|zustellung|non distribuable|no se puede entregar|no entregado|non recapitabile|não entregue|"
    r"onbestelbaar|не доставлено|недоставлено|配信|送信失敗|退信|退回|未送达|系统退信|mail could not|message status|"
    r"error|failed|failure|problem with your message|permanent|expired|quota|mailbox|delayed|could not|couldn't|"
    r"not (?:yet )?(?:been )?delivered|delivery warning|user unknown|unknown user|no such user|エラー|失败|失敗|錯誤|错误",
    re.I,
)
# Where the returned copy of our message starts; text after it is not about the failure.
_RETURNED_MARKER = lazy(
    r"^[ \t]*(?:[-=_* ]{2,}.*(?:original message|original mail|copy of (?:the|your) message|returned message|message follows|"
    r"message headers|headers? follow|unsent message|rejected message|undelivered message)|"
    r"-{3,} ?(?:original|below|this is a copy|the header of the original|forwarded)|.*original message (?:follows|headers)|"
    r"(?:below|attached) is (?:a )?copy of the (?:original )?message|content-type: message/rfc822|"
    r"(?:a )?copy of (?:the|your) (?:original )?message (?:is )?(?:below|follows|attached)|original mail as follows|"
    r"(?:the )?(?:text|header) of (?:the|your) (?:original )?message (?:follows|is below)|"
    r"-+ ?(?:unsent|returned) message|original message header|\[original message|your message reads)",
    re.I | re.M,
)
_DAEMON_SENDER = lazy(r"mailer[-_]?daemon@|<mailer[-_]?daemon>|^\s*mailer[-_]?daemon\s*$", re.I)
# The digit first, its lookbehind after it: a pattern that opens with a class lets the engine skip to the next 2, 4
# or 5 (opening with the lookbehind, it tried every offset): three times faster, the same matches.
_REPLY_CODE = lazy(r"([245])(?<![\d.][245])[0-5]\d(?=[ -]|$)")


def detect(ctx: Context) -> Finding | None:
    finding = ctx.once("bounce.detect", lambda: _detect(ctx))  # a dialect may fall back to it first: read once
    return None if finding is None else finding.copy()


def _detect(ctx: Context) -> Finding | None:
    failed_header = ctx.header_all("x-failed-recipients")
    if not looks_like_bounce(ctx, bool(failed_header)):
        return None
    ctx.budget.check()
    text, returned_text = _failure_text(ctx)
    retry = retrying.said(ctx.subject, text)
    candidates = failed_addresses(ctx, text, failed_header, returned_text)
    if not candidates:
        return None
    recipients = [_recipient(address, text, retry) for address in candidates]
    return Finding(kind=ReportKind.BOUNCE, recipients=recipients)


def looks_like_bounce(ctx: Context, failed_header: bool) -> bool:
    if failed_header:
        return True
    if ctx.header("auto-submitted") and not BOUNCE_SENDER.found_in(ctx.sender) and not BOUNCE_SUBJECT.found_in(ctx.subject):
        return False
    ctype = mime.content_type(ctx.msg)
    if ctype == "multipart/report" and (mime.param(ctx.msg, "report-type") or "").startswith("delivery-status"):
        return True
    return_path = (ctx.header("return-path") or "").strip()
    null_sender = return_path in ("<>", "") and "return-path" in ctx.top
    if _DISCUSSION_SUBJECT.match(ctx.subject) and not null_sender and not BOUNCE_SENDER.found_in(ctx.sender) and not _own_failure_words(ctx):
        # "Fwd: Undelivered Mail Returned to Sender" from a person, the notice only quoted or forwarded below
        # their words: someone discussing a bounce, not one.
        return False
    # MAILER-DAEMON sends nothing but delivery reports; other bounce-ish senders need a second sign.
    if _DAEMON_SENDER.search(ctx.sender):
        return True
    sender = BOUNCE_SENDER.found_in(ctx.sender)
    subject = BOUNCE_SUBJECT.found_in(ctx.subject)
    # Any two independent signs; one alone (a human "delivery failed?" subject) is not enough.
    signs = sender + subject + null_sender
    if signs == 1 and subject and _SENDER_SPEAKING.search(_own_text(ctx)):
        # Only the subject looks like a bounce and the text says "my message to ... was returned", "I sent": a person
        # telling of a bounce in their own words. An MTA speaks of "your message", never of its own.
        return False
    return signs >= 2 or (signs == 1 and _has_failure_words(ctx))


# Reply and forward prefixes in the languages mail clients write them (Re, Fwd, AW, WG, TR, RV, SV, VS, Antw, ...).
_DISCUSSION_SUBJECT = lazy(r"^\s*(?:(?:re|fwd?|aw|wg|tr|rv|sv|vs|antw|doorst|odp|pd|ynt|ilt|yml|enc|res)\s*(?:\[\d+\])?\s*[:：]\s*)+\S", re.I)
_FAILURE_WORDS = lazy(r"could not be delivered|not yet been delivered|did not receive a copy|not be delivered|delivery error|fatal (?:delivery )?error|could not deliver|unable to deliver|message (?:was )?not delivered|has not been delivered|delivery problems?|hasn't been delivered|undeliverable|delivery (?:has )?failed|permanent(?:ly)? (?:error|fail)|user unknown|unknown user|no such user|not delivered|returned to sender|failed recipient|following address(?:es)? (?:failed|had)|delivery to the following", re.I)


_FORWARD_MARKER = lazy(
    r"^[ \t]*(?:begin forwarded message|-+ ?(?:forwarded message|original message|weitergeleitete nachricht|message d'origine|"
    r"mensaje original|messaggio originale|ursprüngliche nachricht) ?-*|on .{0,200} wrote:|am .{0,200} schrieb .{0,80}:|"
    # Outlook's forward and reply: a rule of underscores (plain text; its HTML has a bordered block), then the
    # original's From and Sent (Date) lines, in the reader's language (Von/Gesendet, De/Envoyé, De/Enviado el,
    # Da/Inviato, Van/Verzonden); an empty line between them where the HTML's <br> was flattened.
    r"_{10,}[ \t]*$|(?:from|von|de|da|van)[ \t]*:[^\n]*\n(?:[ \t]*\n)?[ \t]*(?:sent|date|gesendet|datum|envoy\w*|enviado(?: el)?|inviato|verzonden)[ \t]*:)",
    re.I | re.M,
)


# A person speaking of the mail they sent: "my message to", "my e-mails", "I sent", "we sent", "I tried to write to"
# (an MTA's notice says "your message"; Spanish "mi"/"mis" is not Italian "mi" alone: a noun must follow).
_SENDER_SPEAKING = lazy(
    r"\bmy (?:e-?mails?|messages?|mails?|letters?|newsletters?)\b|\b(?:i|we) (?:have |had )?sent\b|"
    r"\b(?:i|we) (?:tried|wanted|was trying|were trying) to (?:send|write|e-?mail|mail|reach|contact)\b|"
    r"\bour (?:e-?mails?|messages?|newsletters?|mails?) to\b|"
    # The same in German, French, Spanish and Italian: "meine Nachricht an", "mon message à", "mi correo a", "il mio messaggio".
    r"\bmeine (?:e-?mails?|nachricht(?:en)?|mails?)\b|\b(?:mon|mes) (?:e-?mails?|messages?|courriels?)\b|"
    r"\bmis? (?:correos?|mensajes?|e-?mails?)\b|\bil mio (?:messaggio|e-?mail)\b",
    re.I,
)


def _own_text(ctx: Context) -> str:
    """The sender's own text: before any forwarded or quoted copy, outside "> " lines."""
    text = ctx.body_text[:10000]
    marker = _FORWARD_MARKER.search(text)
    return "\n".join(line for line in (text[: marker.start()] if marker else text).splitlines() if not line.lstrip().startswith(">"))


def _own_failure_words(ctx: Context) -> bool:
    """Failure words in the sender's own text: before any forwarded or quoted copy, outside "> " lines."""
    return _FAILURE_WORDS.found_in(_own_text(ctx))


def _has_failure_words(ctx: Context) -> bool:
    return _FAILURE_WORDS.found_in(ctx.body_text[:10000])


def _failure_text(ctx: Context) -> tuple[str, str]:
    """The text about the failure, and the returned copy of our message the bounce pasted after it."""
    text = ctx.body_text[:60000]
    marker = _returned_marker(text)
    if marker and marker.start() > 40:
        return text[: marker.start()], text[marker.start():]
    return text, ""


def _returned_marker(text: str) -> re.Match[str] | None:
    """_RETURNED_MARKER.search(text), tried only at the starts of the lines that hold one of its words.

    A match lies within one line (no part of the pattern crosses a line feed) and starts at that line's start
    (``^[ \\t]*``), and holds one of the pattern's literals: so the leftmost match is the first of those lines
    where the pattern matches. Searched outright, it tried its alternatives at every offset from the first word on.
    """
    literals = _RETURNED_MARKER.literals()
    # re.I literals lowered are exact on a text without the characters re.I folds to ASCII, whose lower-cased
    # copy is then as long as the text, character for character (prefilter.lowered_for_literals).
    lowered = lowered_for_literals(text) if literals is not None else None
    if literals is None or lowered is None:
        return _RETURNED_MARKER.search(text)
    starts: set[int] = set()
    for literal in literals:
        at = lowered.find(literal)
        while at >= 0:
            starts.add(lowered.rfind("\n", 0, at) + 1)
            at = lowered.find(literal, at + 1)
    for start in sorted(starts):
        match = _RETURNED_MARKER.match(text, start)
        if match is not None:
            return match
    return None


def _segment(address: str, text: str) -> str:
    """The lines that talk about one address: from its first mention to a few lines after."""
    lower = text.lower()
    index = lower.find(address.lower())
    if index < 0:
        local = address.rpartition("@")[0].lower()
        index = lower.find(local) if len(local) > 2 else -1
    if index < 0:
        return text[:2000]
    start = lower.rfind("\n", 0, index) + 1
    lines = text[start:].splitlines()[:16]
    for n in range(1, min(len(lines), 8)):
        if _PASTED_HEADER.match(lines[n]) and _PASTED_HEADER.match(_next_field(lines, n + 1)):
            # The returned message's headers pasted right under the failure (Zoho, webmail gateways, notices
            # without a marker): what they say (Content-Type, Received) is about our message, not the failure.
            # Two header fields in a row: one alone may be the notice's own (indimail's "From: <a> RCPT: <b> ...").
            return "\n".join(lines[:n])
    return "\n".join(lines[:8])


def _next_field(lines: list[str], n: int) -> str:
    """The line that starts the next header field after a field's continuation lines ("" when there is none)."""
    while n < len(lines) and lines[n][:1] in (" ", "\t"):
        n += 1
    return lines[n] if n < len(lines) else ""


_FIELDS = r"(?:received|message-id|return-path|mime-version|content-type|content-transfer-encoding|dkim-signature|" \
          r"x-[a-z0-9-]+|date|from|to|cc|subject|user-agent|references|in-reply-to)[ \t]*:(?!//)"
# Two header fields in a row at the start of a line (continuation lines between them): a pasted header block.
_PASTED_BLOCK = LinePattern(lazy(rf"^{_FIELDS}.*\n(?:[ \t].*\n)*{_FIELDS}", re.I | re.M))
_PASTED_HEADER = lazy(_FIELDS, re.I)


@functools.lru_cache(maxsize=4)
def _before_pasted_headers(text: str) -> str:
    """The failure text up to a header block of the returned message pasted after the first failed address
    without a marker (a block before it is the notice's own summary, or a part whose headers a broken MIME
    structure left in the text)."""
    first = _first_address_line(text)
    match = _PASTED_BLOCK.search(text, first + 1) if first >= 0 else None
    return text[: match.start()] if match else text


def _first_address_line(text: str) -> int:
    at = text.find("@")
    return text.find("\n", at) if at >= 0 else -1


def _recipient(address: str, text: str, retry: retrying.Retry | None) -> RecipientResult:
    # The whole text is where the reason and code are looked for when the address's own lines say nothing:
    # never in the returned message's headers (its Content-Type is not a content error).
    return recipient(address, _segment(address, text), _before_pasted_headers(text), retry)


def recipient(address: str, segment: str, text: str, retry: retrying.Retry | None) -> RecipientResult:
    """One failed or delayed recipient from the lines about it (``segment``) within the notice's failure text."""
    status = failure_status_of(segment, text)
    reply = _REPLY_CODE.search(segment) or _REPLY_CODE.search(text)
    diagnostic = " ".join(line.strip() for line in segment.splitlines() if line.strip())[:1000] or None
    # The lines about this address first: cheaper, and right when one bounce reports several reasons. What
    # failed decides before qmail's note that it stopped retrying (retrying.without_stop_notice).
    cause = retrying.without_stop_notice(segment)
    reason, hard = reason_for(status, cause)
    if reason == "undefined" and cause is not segment:
        reason, hard = reason_for(status, segment)
    if reason == "undefined" and segment is not text:
        reason, hard = reason_for(status, text)
    if reason == "undefined" and diagnostic:
        # An address and a diagnostic, but nothing that decides a reason.
        reason = Reason.ONHOLD
    if status is None and reason in DEFAULT_STATUS:
        klass = "4" if retry is retrying.Retry.KEEPS_TRYING or (retry is None and reply and reply.group(1) == "4") else "5"
        status = klass + DEFAULT_STATUS[reason][1:]
    action = retrying.action(retry, status)
    temporary = status[0] == "4" if status else bool(reply and reply.group(1) == "4")
    if retry is retrying.Retry.GAVE_UP and temporary and reason in (Reason.UNDEFINED, Reason.ONHOLD):
        # The notice says it gave up, and what it last heard was temporary with nothing more precise: its
        # retries ran out (as an RFC 3464 report's failed 4.x.x is read).
        reason = Reason.EXPIRED
    if action == "delayed":
        hard = False
    return RecipientResult(
        address=address,
        original_recipient=None,
        action=action,
        status=status,
        reason=reason,
        hard=hard,
        diagnostic=diagnostic,
        remote_mta=None,
        disposition=None,
    )
