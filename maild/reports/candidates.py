"""Which addresses a non-standard bounce says failed: structural positions first, then flufl.bounce, then addresses near failure words."""

from __future__ import annotations

import email
import re
from collections.abc import Callable, Iterable
from itertools import islice
from email.message import Message
from email._policybase import compat32  # the same object email.policy exports, without loading the modern policy machinery

from maild.core.lazyre import _DERIVE_ON_USE, LazyPattern, lazy  # when its literals() turns final
from maild.core.prefilter import Literals, cannot_match_ci, lowered_for_literals, might_match
from maild.reports import mime
from maild.reports.context import Context
from maild.core.syntax import ADDRESS_PATTERN
from maild.reports.fields import all_addresses, normalize_address

# An address as bounce texts print it: bare, in angle brackets, quoted, or with a quoted local part.
_A = rf"(?<![\w.+=/-])(?P<a>{ADDRESS_PATTERN})"  # an address not glued to a longer word
_QUOTE_PREFIX = lazy(r"^(?:\s*>)+ ?")


def _unquoted(line: str) -> str:
    """The line without its "> " quote marks (a line without ">" has none: no substitution to run)."""
    return _QUOTE_PREFIX.sub("", line) if ">" in line else line


# Positions where every MTA family puts the failed recipient; anything else in a bounce is context.
_STRUCTURAL: tuple[LazyPattern, ...] = tuple(
    lazy(p, re.I)
    for p in (
        # Alone on its line (Exim, Postfix, Biglobe, fml): "  <a@b>", "a@b:", "\"a@b\"".
        rf"^\s*[<\"'(]?{_A}[>\"')]?\s*[:.,]?\s*$",
        # A display name and the address alone on a line (Exchange, Notes): "\"Name\" <a@b>".
        rf"^\s*\"?[^\"<>@]*(?:@[^\"<>]*)?\"?\s*<{_A}>\s*$",
        # An SMTP reply naming the recipient after "for"/"to": "552 Quota violation for a@b".
        rf"^\s*(?:<<<\s*)?[245]\d\d[ -].*?\b(?:for|to|recipient|user|mailbox)\s*:?\s*<?{_A}",
        # At the start of the line and followed by the reason: "<a@b>: host said", "a@b - no such user", "a@b (reason)".
        rf"^\s*<?{_A}>?\s*(?::\s|:$|\s-+\s|\s\(|\.\.\.)",
        # Sendmail's reply lines: "550 5.1.1 <a@b>... User unknown".
        rf"^\s*(?:<<<\s*)?[245]\d\d[ -](?:[245]\.\d{{1,3}}\.\d{{1,3}}\s+)?<?{_A}>?\.\.\.",
        # An angle-bracketed address followed by a colon and the reason, after other text (Exim's syntax errors).
        rf"<{_A}>:\s+\S",
        # SMTP transcripts and report-like fields.
        rf"\brcpt to\s*:\s*<?{_A}",
        rf"\b(?:final|original)[- ]recipient\s*:\s*(?:rfc822\s*;\s*)?<?{_A}",
        rf"\b(?:recipient|original|failed|invalid|unknown|bad|rejected)(?: e-?mail)?(?: address(?:es)?| recipients?| user)?\s*:\s*<?\"?{_A}",
        # "could not be delivered to: <a@b>", "was not delivered to a@b", "your message to: a@b".
        rf"\b(?:deliver(?:ed|y)?|sen[dt]|transmit(?:ted)?|relay(?:ed)?|message|mail|forward(?:ed)?|addressed|reach)\s+to\s*:?\s*<?\"?{_A}",
        rf"\bto\s*<{_A}>\s*(?:failed|was|is|has|could|:)",
    )
)
# The address the sender wrote, where the MTA rewrote it: report that one (it is what the sender knows).
_EXPANDED = lazy(rf"\((?:expanded|generated) from:?\s*<?{_A}>?\s*\)", re.I)
_ORIGINAL_ADDRESS = lazy(rf"^\s*original(?:ly)? (?:address|recipient)\s*:\s*(?:rfc822\s*;\s*)?<?{_A}", re.I)
_HEADER_START = lazy(r"^\s*[A-Za-z][A-Za-z0-9-]*:")
_ENVELOPE_SENDER = lazy(rf"\b(?:mail from|envelope-from|envelope sender|return-path)\s*:?\s*<?{_A}", re.I)
_MESSAGE_ID = lazy(r"message-id\s*:\s*<?([^>\s]+)", re.I)
_IGNORED_LOCAL = lazy(r"^(?:mailer-daemon|root|abuse|noreply|no-reply|daemon|nobody|double-bounce|bounces?|mail)$", re.I)
_NOISE_LINE = lazy(
    r"^\s*(?:received|from|reply-to|return-path|sender|message-id|references|in-reply-to|dkim-signature|x-[\w-]+|date|by|for|with|"
    r"id|envelope-from|authentication-results|arc-[\w-]+|list-[\w-]+|errors-to|cc|subject|mail from)\b\s*[:(]?",
    re.I,
)
# A remote's reply or a notice naming an address to write to ("to request removal write to delist@",
# "questions to postmaster@", "Contact abuse@", "email us at help@"): right before the address, so a reply
# line that also fits a recipient's position ("550 ... to a@b") does not make it a failed recipient.
_CONTACT_BEFORE = lazy(
    r"(?:\b(?:contact(?:ing)?|e-?mail us|reach us|write|questions?|report\w*|complain\w*|appeal\w*|please (?:send|mail|e-?mail)|"
    # The words between may not be about our message ("this report relates to a message you sent to a@b").
    r"send (?:a |an |your )?(?:[\w-]+ )?(?:request|report|complaint|inquiry|appeal|note))\b"
    r"(?:(?!\b(?:sent|send|deliver\w*|message|mail)\b)[^@<>\n]){0,60}?\b(?:to|at)|"
    r"\bcontact(?:ing)?(?: us| the [\w -]{1,30}?)?:?|\b(?:notify|inform|ask)(?: us| the [\w -]{1,30}?)?:?|"
    # "forward this message to postmaster@", "please forward the full bounce to abuse@": the notice is what is sent.
    r"\bforward(?:ing)? (?:this|the|that|a copy of (?:this|the)) (?:[\w-]+ ){0,2}?(?:message|e-?mail|mail|report|notice|error|bounce|ndr)"
    r"(?: [\w-]+){0,3}? (?:to|at))\s*[<\"(]?$",
    re.I,
)
_SENDER_CONTEXT = lazy(r"\b(?:mail from|sender|reply-to|return-path|envelope-from|list|owner|moderator|subscribe|unsubscribe|contact|write to|questions?)\b|\bfrom\s*:?\s*$", re.I)
_RECIPIENT_CONTEXT = lazy(
    r"\b(?:to|for|recipients?|rcpt|address(?:es)?|user|mailbox|account|unknown|fail(?:ed|ure)?|error|rejected|denied|refused|"
    r"undeliver\w*|deliver\w*|invalid|quota|full|exist\w*|reason|[245]\d\d|[245]\.\d{1,3}\.\d{1,3})\b|[:<>]",
    re.I,
)


def failed_addresses(ctx: Context, text: str, failed_header: list[str], returned_text: str = "") -> list[str]:
    """The recipients a bounce reports as failed, most trustworthy source first; empty when it names none."""
    hard_excluded = _bouncer_addresses(ctx) | _envelope_senders(text) | _message_ids(ctx.body_text)
    structural = [a for a in _structural(text) if _allowed(a, hard_excluded, ctx)]
    header = [a for value in failed_header for a in all_addresses(value)]
    if header:
        # The header and the text normally agree; when they do not, the text is what the MTA wrote last.
        return header if not structural or set(header) & set(structural) else structural
    if structural:
        return structural
    soft_excluded = hard_excluded | _recipient_side(ctx)

    def usable(address: str) -> bool:
        # Free text names role accounts ("write to postmaster@") far more often than it reports them failed.
        return _allowed(address, soft_excluded, ctx) and not _IGNORED_LOCAL.match(address.rpartition("@")[0])

    flufl = _flufl(ctx, usable)
    if flufl:
        return flufl
    weak = [a for a in _weak(text) if usable(a)]
    if weak:
        return weak
    # No address in the text at all (old Sendmail, Notes): the returned copy's recipient, when there is just one.
    to = _returned_recipients(ctx.returned or _inline_returned(returned_text))
    if len(to) == 1 and _allowed(to[0], hard_excluded, ctx):
        return to
    return []


def _returned_recipients(returned: Message | None) -> list[str]:
    if returned is None:
        return []
    return all_addresses((mime.header(returned, "to") or "") + " " + (mime.header(returned, "cc") or ""))


def _inline_returned(text: str) -> Message | None:
    """The header block of a copy of our message pasted into the bounce text after its marker line."""
    lines = text.lstrip("\r\n").splitlines()[1:60]  # the marker line itself is not a header
    head = "\n".join(_unquoted(line) for line in lines).lstrip("\n")
    if not _HEADER_START.match(head):
        return None
    return email.message_from_string(head.split("\n\n", 1)[0] + "\n\n", policy=compat32)


def _allowed(address: str, excluded: set[str], ctx: Context) -> bool:
    hints = ctx.hints
    lower = address.lower()
    if lower in excluded:
        return False
    local = lower.rpartition("@")[0]
    ours = hints.local_part and (local == hints.local_part.lower() or local.startswith(hints.local_part.lower() + hints.delimiter))
    return not ours


def _bouncer_addresses(ctx: Context) -> set[str]:
    """The bounce's own sender: texts sign with it, it never failed."""
    own: set[str] = set()
    for name in ("from", "sender", "reply-to", "return-path"):
        for value in ctx.header_all(name):
            own.update(a.lower() for a in all_addresses(value))
    return own


def _recipient_side(ctx: Context) -> set[str]:
    """Whom the bounce went to (our sender) and who sent the returned copy: never the failed recipient in free text."""
    side: set[str] = set()
    for name in ("to", "delivered-to", "x-original-to"):
        for value in ctx.header_all(name):
            side.update(a.lower() for a in all_addresses(value))
    if ctx.returned is not None:
        for name in ("from", "return-path", "sender", "reply-to"):
            side.update(a.lower() for a in all_addresses(mime.header(ctx.returned, name) or ""))
    return side


def _envelope_senders(text: str) -> set[str]:
    if cannot_match_ci(_ENVELOPE_SENDER.literals(), text):
        return set()
    return {normalize_address(m.group("a")) or "" for m in _ENVELOPE_SENDER.finditer(text)} - {""}


def _message_ids(text: str) -> set[str]:
    if cannot_match_ci(_MESSAGE_ID.literals(), text):
        return set()
    return {m.group(1).strip("<>").lower() for m in _MESSAGE_ID.finditer(text)}


# MTAs wrap their text well under 998 characters; past this a line is data, not a sentence about a failure, and
# reading all of it costs each address pattern a scan per position (40,000 "a@" on one line ran for minutes).
MAX_LINE = 2000
MAX_WEAK_ADDRESSES = 200


def _lines(text: str) -> Iterable[str]:
    for line in text.splitlines():
        if "@" in line:
            yield _unquoted(line[:MAX_LINE])


def _structural(text: str) -> list[str]:
    out: list[str] = []
    previous = ""
    for raw in text.splitlines():
        line = _unquoted(raw[:MAX_LINE])
        context, previous = previous, line
        if "@" not in line or _NOISE_LINE.match(line):
            continue
        # The patterns are case-insensitive: on a line without the letters re.I folds to ASCII, one whose literals (core.prefilter) the lower-cased
        # line lacks cannot match, and is not run (most of the eleven over most lines).
        lowered = lowered_for_literals(line)
        rewritten = (_EXPANDED.search(line) if _might(_EXPANDED, lowered) else None) or (
            _ORIGINAL_ADDRESS.match(line) if _might(_ORIGINAL_ADDRESS, lowered) else None
        )
        if rewritten:
            # "(expanded from: a@b)" or "Original address: a@b" under the rewritten one: the sender's address replaces it.
            if out and line.lstrip().lower().startswith(("(", "original")):
                out.pop()
            _add(out, rewritten.group("a"))
            continue
        # The anchored address-alone pattern first: the context's re.I words were tried at each of its 60 offsets.
        if _STRUCTURAL[0].match(line) and _SENDER_CONTEXT.search(context[-60:]):
            continue  # "contact the list owner at" / "a@b": an address to write to, not one that failed
        for pattern, literals in _structural_literals():
            if lowered is not None and literals is not None:
                for s in literals:  # a plain loop: any() over a generator, per pattern per line, cost as much as the regexes
                    if s in lowered:
                        break
                else:
                    continue
            for match in pattern.finditer(line):
                if not _CONTACT_BEFORE.search(line, max(0, match.start("a") - 120), match.start("a")):
                    _add(out, match.group("a"))
    return out


# Each structural pattern with its pre-check literals, kept once they are final (LazyPattern.literals derives them
# on its fourth call): a tuple assigned at once, so threads parsing side by side read a whole one or none.
_STRUCTURAL_LITERALS: tuple[tuple[LazyPattern, Literals | None], ...] | None = None
_literal_reads = 0


def _structural_literals() -> tuple[tuple[LazyPattern, Literals | None], ...]:
    global _STRUCTURAL_LITERALS, _literal_reads
    if _STRUCTURAL_LITERALS is not None:
        return _STRUCTURAL_LITERALS
    pairs = tuple((pattern, pattern.literals()) for pattern in _STRUCTURAL)
    _literal_reads += 1
    if _literal_reads >= _DERIVE_ON_USE:
        _STRUCTURAL_LITERALS = pairs
    return pairs


def _might(pattern: LazyPattern, lowered: str | None) -> bool:
    """False only when the pattern cannot match the line (`lowered`: prefilter.lowered_for_literals of the line)."""
    return lowered is None or might_match(pattern.literals(), lowered)


def _add(out: list[str], raw: str) -> None:
    address = normalize_address(raw)
    if address and address.lower() not in (a.lower() for a in out):
        out.append(address)


_WEAK_ADDRESS = lazy(_A)  # compiled once, not looked up in re's cache per line


def _weak(text: str) -> list[str]:
    """Addresses on lines that talk about a failure and not about a sender or a list."""
    out: list[str] = []
    seen = 0
    for line in _lines(text):
        if _NOISE_LINE.match(line):
            continue
        for match in _WEAK_ADDRESS.finditer(line):
            seen += 1
            if seen > MAX_WEAK_ADDRESSES:  # a text naming hundreds of addresses is a list, not a failure notice
                return out
            before = line[: match.start()]
            rest = line[: match.start()] + " " + line[match.end():]
            if _SENDER_CONTEXT.search(before[-40:]) or not _RECIPIENT_CONTEXT.search(rest):
                continue
            _add(out, match.group("a"))
    return out


_FLUFL_MAX_PARTS = 50
_FLUFL_MAX_TEXT = 256 * 1024
_FLUFL_MAX_LINES = 5000
# It decodes every part, not only the text that body_text holds: a 9 MB base64 status part took 8 s of CPU;
# and it reads addresses out of whole header values: a 500 KB X-Failed-Recipients took 1.1 s.
_FLUFL_MAX_PAYLOAD = 1024 * 1024


def _flufl(ctx: Context, usable: Callable[[str], bool]) -> list[str]:
    """flufl.bounce's per-family detectors, run only when the text gave no structural answer (they are the costly part)."""
    # Each of its 50 detectors walks every part and runs its patterns over every line: seconds on 8 MB of text.
    text = ctx.body_text
    parts = list(islice(ctx.msg.walk(), _FLUFL_MAX_PARTS + 1))
    payloads = [p for p in (part.get_payload() for part in parts) if isinstance(p, str)]
    payload = sum(map(len, payloads))
    headers = sum(len(str(value)) for value in ctx.msg.values())
    if (
        len(text) > _FLUFL_MAX_TEXT or text.count("\n") > _FLUFL_MAX_LINES or len(parts) > _FLUFL_MAX_PARTS or payload > _FLUFL_MAX_PAYLOAD
        or headers > _FLUFL_MAX_TEXT
    ):
        ctx.note("flufl.bounce skipped: message too big")
        return []
    try:
        from maild.reports.flufl_scan import all_failures  # imports flufl.bounce: only for the few bounces the scan finds nothing in

        temporary, permanent = all_failures(ctx.msg, payloads)
    except Exception:
        ctx.note("flufl.bounce failed")
        return []
    ids = _message_ids(ctx.body_text)
    out: list[str] = []
    for raw in sorted(permanent) + sorted(temporary):
        address = normalize_address(raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw))
        if address and usable(address) and address.lower() not in ids and address not in out:
            out.append(address)
    return out
