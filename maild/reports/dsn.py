"""RFC 3464 delivery status notifications, including the broken forms seen in the wild."""

from __future__ import annotations

import functools
import re
from email.message import Message

from maild.core.frozen import replace
from maild.core.lazyre import lazy
from maild.core.prefilter import LinePattern
from maild.core.reasons import Reason
from maild.core.reason_rules import DEFAULT_STATUS, code_says_why, reason_for, smtp_command
from maild.core.syntax import STATUS_CODE
from maild.reports import mime
from maild.reports.context import Context, Finding
from maild.reports.fields import Field, address_of, all_addresses, parse_fields, typed_value
from maild.reports.model import RecipientResult, ReportKind

STATUS_TYPES = ("message/delivery-status", "message/global-delivery-status")
_PER_MESSAGE = {"original-envelope-id", "reporting-mta", "dsn-gateway", "received-from-mta", "arrival-date", "x-postfix-queue-id", "x-postfix-sender"}
_RECIPIENT_STARTS = {"final-recipient", "original-recipient", "x-actual-recipient"}
_LOOKS_LIKE_STATUS = LinePattern(lazy(r"^[ \t]*(?:final|original)-recipient[ \t]*:", re.I | re.M))
_HAS_ACTION_OR_STATUS = lazy(r"^[ \t]*(?:action|status)[ \t]*:", re.I | re.M)
_ACTIONS = {
    "failed": "failed", "failure": "failed", "fail": "failed", "bounced": "failed", "error": "failed",
    "delayed": "delayed", "delay": "delayed", "deferred": "delayed",
    "delivered": "delivered", "deliverable": "delivered", "relayed": "relayed", "expanded": "expanded",
}


def find_status_text(ctx: Context) -> str | None:
    """The text of the machine-readable status part, wherever and however it was put."""
    return ctx.once("dsn.status_text", lambda: _find_status_text(ctx))


def _find_status_text(ctx: Context) -> str | None:
    fallback: Message | None = None
    for part, _ in ctx.parts:
        ctype = mime.content_type(part)
        if ctype in STATUS_TYPES:
            if str(part.get("content-transfer-encoding", "")).strip().lower() == "base64":
                ctx.note("status part base64")
            return mime.part_text(part)
        if fallback is None and not part.is_multipart() and (ctype.startswith("text/") and ctype != "text/html" or ctype in ("message/rfc822-headers",)):
            fallback = part
    for part, _ in ctx.parts:
        if part.is_multipart() or not mime.content_type(part).startswith("text/plain"):
            continue
        text = mime.part_text(part)
        if _LOOKS_LIKE_STATUS.search(text) and _HAS_ACTION_OR_STATUS.search(text):
            ctx.note("status part labelled text/plain")
            return text
    return None


def split_blocks(blocks: list[list[Field]]) -> tuple[dict[str, str], list[dict[str, str]]]:
    """Per-message fields and per-recipient groups; a repeated field starts a new recipient, blank lines or not."""
    per_message: dict[str, str] = {}
    recipients: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for block in blocks:
        if _is_recipient(current):
            # A blank line ends a complete recipient group, whichever field it started with.
            recipients.append(current)
            current = {}
        for name, value in block:
            if name in _PER_MESSAGE and not current:
                per_message.setdefault(name, value)
                continue
            if current and name in current:
                recipients.append(current)
                current = {}
            current[name] = value
    if current:
        recipients.append(current)
    return per_message, [r for r in recipients if _is_recipient(r)]


def _is_recipient(fields: dict[str, str]) -> bool:
    return bool(_RECIPIENT_STARTS & fields.keys()) and bool({"action", "status", "diagnostic-code"} & fields.keys())


def _first_code_at(text: str) -> int:
    """Where STATUS_CODE can first match in `text` (a code starts "2.", "4." or "5."), or -1 when nowhere: the
    search starts there (its look-behind still sees the character before), not at every offset before it."""
    found = -1
    for start in ("2.", "4.", "5."):
        at = text.find(start, 0, found + 2 if found >= 0 else len(text))
        if at >= 0:
            found = at
    return found


def status_of(*texts: str | None) -> str | None:
    for text in texts:
        if text:
            at = _first_code_at(text)
            match = STATUS_CODE.search(text, at) if at >= 0 else None
            if match:
                return f"{match.group(1)}.{int(match.group(2))}.{int(match.group(3))}"
    return None


def failure_status_of(*texts: str | None) -> str | None:
    """status_of, passing over the codes of success replies: a transcript quotes the replies that accepted the
    address (Postfix's "Out: 250 2.1.5 Ok" after RCPT TO) before the one that failed it."""
    for text in texts:
        if text:
            at = _first_code_at(text)
            for match in STATUS_CODE.finditer(text, at) if at >= 0 else ():
                if match.group(1) == "2" and _SUCCESS_REPLY.search(text, max(0, match.start() - 5), match.start()):
                    continue
                return f"{match.group(1)}.{int(match.group(2))}.{int(match.group(3))}"
    return None


_SUCCESS_REPLY = lazy(r"(?<!\d)2\d\d[ -]$")


# A code right after the remote server's three-digit reply ("550-'5.7.1", "552 5.2.2"): the remote's own words.
# The class first, its lookbehind after it (see bounce._REPLY_CODE): the engine skips to each 2, 4 or 5.
_REPLY_STATUS = lazy(r"([245])(?<!\d[245])\d\d[ -]['\"(#]?([245])\.(\d{1,3})\.(\d{1,3})(?![\d.]*\d)")
# Codes a reporting MTA writes when it only knows the outcome: "5.0.0 failed", "4.4.7 expired", "5.1.0 address error".
_SUMMARY_DETAILS = frozenset({"0.0", "1.0", "2.0", "3.0", "4.0", "5.0", "6.0", "7.0", "4.7"})


def remote_status(status: str | None, *texts: str | None) -> str | None:
    """The Status field, unless it is a summary and the remote server's quoted reply carries a precise code.

    An MTA reports "5.0.0" or "4.4.7" for the outcome and quotes the reply that caused it ("550 5.7.1 Access
    denied", "441 4.4.1 connection error"); the quoted reply is the one that says why, as long as it is of
    the same class (a 4.x.x reply behind a 5.x.x outcome is the last temporary error before giving up).
    A Status field that is already precise stays, unless the remote's reply right after its reply code
    names another precise code of the same class (Sendmail and others map replies onto 5.1.1 crudely).
    """
    for text in texts:
        if not text:
            continue
        anchored = [f"{m.group(2)}.{int(m.group(3))}.{int(m.group(4))}" for m in _REPLY_STATUS.finditer(text[:4000])]
        if status is None:
            found = anchored[0] if anchored else status_of(text)
            if found:
                return found
            continue
        summary = status.split(".", 1)[1] in _SUMMARY_DETAILS
        candidates = anchored if anchored else [c for c in [status_of(text)] if c and summary]
        for quoted in candidates:
            # Across classes only for a bare X.0.0: "5.0.0" after "452 4.2.2 mailbox full: retry timeout exceeded"
            # says only that it failed, the quoted reply says why.
            if quoted == status or (quoted[0] != status[0] and not status.endswith(".0.0")):
                continue
            if quoted.split(".", 1)[1] not in _SUMMARY_DETAILS or status.endswith(".0.0"):
                return quoted
    return status


_ACTION_WORD_END = lazy(r"[\s;(,]")  # compiled once, not looked up in re's cache per recipient


def action_of(value: str | None, status: str | None) -> str | None:
    if value:
        word = _ACTION_WORD_END.split(value.strip().lower(), 1)[0]
        if word in _ACTIONS:
            return _ACTIONS[word]
    if status:
        return {"5": "failed", "4": "delayed", "2": "delivered"}.get(status[0])
    return None


def recipient_from_fields(fields: dict[str, str], human: str = "", reporting_host: str = "") -> RecipientResult:
    """One recipient group; ``human`` is the report's human-readable text, read for what the fields leave out.

    ``reporting_host`` is the report's Reporting-MTA (reporting_host()), which says whether a dotless
    Final-Recipient is that host's own mailbox."""
    diagnostic_type, coded = typed_value(fields.get("diagnostic-code"))
    if not coded:
        diagnostic_type, coded = typed_value(fields.get("x-postfix-diagnostic"))
    diagnostic = coded or None
    status_field = fields.get("status")
    status = status_of(status_field)
    action = action_of(fields.get("action"), status)
    if status is None or status.endswith(".0.0") or diagnostic:
        # The reply the remote server gave: in Diagnostic-Code, or only in the human-readable part (OpenSMTPD).
        status = remote_status(status, diagnostic, None if diagnostic else _segment(_recipient_address(fields), human))
    reason: Reason | None = None
    hard: bool | None = None
    if action in ("failed", "delayed") or (action is None and status and status[0] in "45"):
        # The human-readable part often says what the fields do not: the SMTP command the reply answered
        # (Postfix "(in reply to RCPT TO command)"), or the whole reason when Diagnostic-Code is missing.
        about = _segment(_recipient_address(fields), human) if human else ""
        text = diagnostic or about or None
        if (diagnostic_type or "").lower() == "x-unix" and diagnostic:
            text = "x-unix; " + diagnostic
        reason, hard = reason_for(status, text, command=smtp_command(diagnostic) or smtp_command(about))
        if status is None and reason in DEFAULT_STATUS:
            status = _with_class(DEFAULT_STATUS[reason], "4" if action == "delayed" else "5")
        if action == "failed" and status and status[0] == "4" and reason in ("undefined", "onhold"):
            # A failure with a temporary code and nothing more precise: the MTA kept retrying until its
            # queue lifetime ran out.
            reason = Reason.EXPIRED
        elif action in ("failed", "delayed") and status and status[0] == "4" and not diagnostic and (
            not code_says_why(status) and reason == reason_for(status, None)[0]
        ):
            # A temporary code that is only a class (4.4.0, 4.5.0), no diagnostic, and a human-readable text that
            # adds nothing to the class: what the report says is that delivery has not happened in time, still
            # retrying (delayed) or no longer (failed).
            reason = Reason.EXPIRED
        elif reason == "undefined" and text:
            # An address and a diagnostic, but nothing that decides a reason.
            reason = Reason.ONHOLD
        if action == "delayed":
            hard = False
    address, original = _addresses(fields, reporting_host)
    return RecipientResult(
        address=address,
        original_recipient=original,
        action=action,
        status=status,
        reason=reason,
        hard=hard,
        diagnostic=diagnostic,
        remote_mta=typed_value(fields.get("remote-mta"))[1] or None,
        disposition=None,
        last_attempt_date=fields.get("last-attempt-date") or None,
        will_retry_until=fields.get("will-retry-until") or None,
    )


def recipient_address(fields: dict[str, str], reporting_host: str = "") -> str | None:
    """The address recipient_from_fields reports for the group, without reading the rest of it."""
    return _addresses(fields, reporting_host)[0]


def reporting_host(per_message: dict[str, str]) -> str:
    """The Reporting-MTA's name, lower-cased ("dns; mailhub0" -> "mailhub0"; "" when the report names none)."""
    return typed_value(per_message.get("reporting-mta"))[1].strip().lower()


def _addresses(fields: dict[str, str], reporting_host: str = "") -> tuple[str | None, str | None]:
    """(the recipient's address, its Original-Recipient)."""
    original = address_of(fields.get("original-recipient"))
    # Final-Recipient is what the reporting MTA tried last; an internal name without a dot (Sun Messaging
    # Server's "user@sims-ms-daemon" channel) means an alias the sender never used, so the Original-Recipient
    # names the mailbox better then, unless that dotless name is the reporting MTA's own: a host whose
    # $myhostname has no dot (Postfix: "Reporting-MTA: dns; mailhub0", "<user@mailhub0> (expanded from
    # <alias@example.com>)") delivers to user@its-name like to any other expansion.
    final = address_of(fields.get("final-recipient"), allow_dotless=original is None) or address_of(fields.get("x-actual-recipient"))
    if final is None and original is not None and reporting_host:
        dotless = address_of(fields.get("final-recipient"), allow_dotless=True)
        if dotless and dotless.rpartition("@")[2].lower() in (reporting_host, reporting_host.split(".", 1)[0]):
            final = dotless
    return (original if original and final and _internal_target(final, original) else final or original), original


def _internal_target(final: str, original: str) -> bool:
    """Final-Recipient is where the receiving site forwarded the original to inside itself (a host under its domain).

    "max.haas@unibas.ch" delivered as "HAASM@yogi.urz.unibas.ch": the sender wrote the first; the second is
    the site's own mailbox host, so the original names the bounced recipient.
    """
    final_domain, original_domain = final.rpartition("@")[2].lower(), original.rpartition("@")[2].lower()
    return final.lower() != original.lower() and final_domain.endswith("." + original_domain)


def _failed_header(ctx: Context) -> set[str]:
    return {a.lower() for value in ctx.header_all("x-failed-recipients") for a in all_addresses(value)}


def _as_the_notice_names_it(r: RecipientResult, failed: set[str]) -> RecipientResult:
    """The Original-Recipient where the notice's X-Failed-Recipients names it and not the Final-Recipient.

    An alias or forward resolved inside the reporting MTA: chasquid (internal/queue/dsn.go) writes the
    address the sender used in X-Failed-Recipients and the text's list, the resolved one in Final-Recipient.
    """
    original = r.original_recipient
    if original and r.address and original.lower() in failed and r.address.lower() not in failed:
        return replace(r, address=original)
    return r


def _recipient_address(fields: dict[str, str]) -> str:
    return address_of(fields.get("final-recipient"), allow_dotless=True) or address_of(fields.get("original-recipient")) or ""


@functools.lru_cache(maxsize=4)
def _lowered(text: str) -> str:
    """One lower-cased copy of a report's text for all its recipients (10,000 recipient blocks: 10,000 copies)."""
    return text.lower()


def _segment(address: str, text: str) -> str:
    """The lines of the human-readable text about one address: from its first mention to a few lines after."""
    if not address or not text:
        return ""
    index = _lowered(text).find(address.lower())
    if index < 0:
        return ""
    start = text.rfind("\n", 0, index) + 1
    return "\n".join(text[start:start + 2000].splitlines()[:8])


def _with_class(status: str, klass: str) -> str:
    return klass + status[1:]


MAX_RECIPIENTS = 500  # recipient blocks read from one report: each runs the reason rules (10,000 took 5 s of CPU)


def detect(ctx: Context) -> Finding | None:
    finding = ctx.once("dsn.detect", lambda: _detect(ctx))  # the dialects ask too: read once per message
    return None if finding is None else finding.copy()


def status_groups(ctx: Context) -> tuple[dict[str, str], list[dict[str, str]]]:
    """split_blocks of the status part's fields, read once per message (the dialects look at the groups too)."""
    return ctx.once("dsn.groups", lambda: split_blocks(parse_fields(find_status_text(ctx) or "")))


def _detect(ctx: Context) -> Finding | None:
    if find_status_text(ctx) is None:
        return None
    per_message, groups = status_groups(ctx)
    human = ctx.body_text[:60000] if groups else ""
    if len(groups) > MAX_RECIPIENTS:
        ctx.note(f"too many recipient blocks: the first {MAX_RECIPIENTS} read")
        groups = groups[:MAX_RECIPIENTS]
    recipients = []
    host = reporting_host(per_message)
    for group in groups:
        ctx.budget.check()  # each block runs the reason rules: the time limit holds between blocks, not only detectors
        recipients.append(recipient_from_fields(group, human, host))
    recipients = [r for r in recipients if r.address]
    if any(r.original_recipient and r.original_recipient.lower() != (r.address or "").lower() for r in recipients):
        failed = _failed_header(ctx)
        recipients = [_as_the_notice_names_it(r, failed) for r in recipients]
    if not recipients:
        ctx.note("status part without recipients")
        return None
    return Finding(
        kind=ReportKind.DSN,
        recipients=recipients,
        envelope_id=typed_value(per_message.get("original-envelope-id"))[1] or None,
        reporting_mta=typed_value(per_message.get("reporting-mta"))[1] or None,
        arrival_date=per_message.get("arrival-date") or None,
    )
