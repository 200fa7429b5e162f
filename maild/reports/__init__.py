"""The report parser: raw bytes in, a typed Report out, through an ordered list of detectors; pure and never raising.

MTA and provider notice formats are read by dialect modules in ``maild.reports.lhost`` (one module per format,
a header-only ``matches()`` and a ``parse()``, registered in one list): adding an MTA is one module there plus
its fixtures in tests/data/lhost. The generic RFC 3464 and text readers come after them, as the last resort.
Reasons come from the core's typed table and rules (``maild.core.reasons``, ``maild.core.reason_rules``); a
recipient that a notice printed cut short is completed from the returned headers (``truncated``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib import import_module

from maild.core import digest
from maild.core.lazyre import lazy
from maild.core.prefilter import LinePattern
from maild.reports import arf, dsn, lhost, mdn, mime, truncated
from maild.reports.context import Context, Finding
from maild.reports.clues import (
    ParseHints,
    best_unique,
    message_id,
    message_ids,
    token_from_envid,
    tokens_from_addresses,
)
from maild.reports.model import RecipientResult, Report, ReportKind

__all__ = ["ParseHints", "RecipientResult", "Report", "ReportKind", "parse", "DETECTORS"]

# Most specific first: a report part beats headers, headers beat text heuristics. The dialects (one module per
# MTA format, maild.reports.lhost) read the notices they know before the generic RFC 3464 and heuristic readers.
# Bounces go before auto-replies because MTAs mark their bounces "Auto-Submitted: auto-replied".


class _Later:
    """A detector whose module is imported on its first call: a command parsing DSNs never compiles the bounce heuristics."""

    __slots__ = ("_module", "_detect")

    def __init__(self, module: str) -> None:
        self._module = module
        self._detect: Callable[[Context], Finding | None] | None = None

    def __call__(self, ctx: Context) -> Finding | None:
        return (self._detect or self.load())(ctx)

    def load(self) -> Callable[[Context], Finding | None]:
        """The detector, its module imported now if it was not yet."""
        if self._detect is None:
            self._detect = import_module(self._module).detect
        return self._detect


DETECTORS: tuple[tuple[str, Callable[[Context], Finding | None]], ...] = (
    ("arf", arf.detect),
    ("mdn", mdn.detect),
    ("dialect", lhost.detect),
    ("dsn", dsn.detect),
    ("ses", _Later("maild.reports.ses")),
    ("text-receipt", _Later("maild.reports.textreceipt")),
    ("bounce", _Later("maild.reports.bounce")),
    ("autoreply", _Later("maild.reports.autoreply")),
)


def load_detectors() -> None:
    """Import every detector's module now rather than on its first call (reports.firstuse)."""
    for _name, detector in DETECTORS:
        if isinstance(detector, _Later):
            detector.load()


_REPORT_HEADERS_FOR_TOKENS = ("to", "delivered-to", "x-original-to", "envelope-to", "x-envelope-to", "x-postfix-sender")
# [ \t]*, not \s*, after ^ in every re.M pattern: \s* runs across blank lines from each line start, so 20,000
# empty lines cost 20,000 scans of the rest (80 s); tests/security/test_parse_deadline.py holds every pattern to it.
_RETURNED_TOKEN_LINE = LinePattern(lazy(r"^[ \t]*(?:return-path|disposition-notification-to|to|x-original-to)\s*:.*$", re.I | re.M))


_DEFAULT_HINTS = ParseHints()  # frozen: one for every call without hints


def parse(raw: bytes, hints: ParseHints | None = None) -> Report:
    """Parse one message; malformed input yields kind UNKNOWN with problems noted, never an exception."""
    hints = hints or _DEFAULT_HINTS
    problems: list[str] = []
    if isinstance(raw, str):  # be forgiving with callers holding text
        raw = raw.encode("utf-8", "surrogateescape")
    if len(raw) > hints.max_bytes:
        raw = raw[: hints.max_bytes]
        problems.append("input truncated to max_bytes")
    try:
        return _parse(raw, hints, problems)
    except Exception as exc:  # the parser's promise: bad mail is data, not a crash
        problems.append(f"parser error: {type(exc).__name__}")
        return _empty(raw, problems)


def _parse(raw: bytes, hints: ParseHints, problems: list[str]) -> Report:
    budget = mime.Budget(hints.time_limit)
    msg, mime_problems = mime.parse(raw)
    problems.extend(mime_problems)
    ctx = Context(msg, hints, budget, problems)
    defects = mime.defects(msg, hints.max_depth)
    if "CloseBoundaryNotFoundDefect" in defects or "StartBoundaryNotFoundDefect" in defects:
        ctx.note("truncated multipart")
    finding: Finding | None = None
    try:
        for _name, detector in DETECTORS:
            budget.check()
            finding = detector(ctx)
            if finding is not None:
                break
    except mime.TimeLimit:
        ctx.note("time limit")
        finding = None
    except RecursionError:
        ctx.note("nesting too deep")
        finding = None
    if finding is None:
        finding = Finding(kind=ReportKind.UNKNOWN)
    return _report(ctx, raw, finding)


def _report(ctx: Context, raw: bytes, finding: Finding) -> Report:
    hints = ctx.hints
    returned = ctx.returned if finding.kind is not ReportKind.UNKNOWN else None
    returned_values: list[str | None] = []
    returned_id: str | None = None
    if returned is not None:
        returned_values = [mime.header(returned, "return-path"), mime.header(returned, "disposition-notification-to")]
        returned_id = message_id(mime.header(returned, "message-id"))
    report_values = [v for name in _REPORT_HEADERS_FOR_TOKENS for v in ctx.header_all(name)]
    inline_values: list[str] = []
    if finding.kind in (ReportKind.BOUNCE, ReportKind.DSN, ReportKind.MDN) and _may_hold_token(ctx.body_text[:100000], hints):
        # Bounces that quote our headers as text instead of attaching them.
        inline_values = [m.group() for m in _RETURNED_TOKEN_LINE.finditer(ctx.body_text[:100000])]
    candidates = best_unique(
        [token_from_envid(finding.envelope_id)],
        tokens_from_addresses(returned_values, hints),
        tokens_from_addresses(report_values, hints),
        tokens_from_addresses(inline_values, hints),
    )
    original_id = finding.original_message_id or returned_id
    if original_id is None and finding.kind is not ReportKind.UNKNOWN:
        refs = message_ids(ctx.header("in-reply-to")) + list(reversed(message_ids(ctx.header("references"))))
        original_id = refs[0] if refs else _inline_message_id(ctx.body_text) if finding.kind is ReportKind.BOUNCE else None
    # A recipient the notice printed cut short is completed from the returned To/Cc when one address fits.
    recipients = (
        tuple(truncated.complete(finding.recipients, returned, ctx.problems, "" if returned is not None else ctx.body_text))
        if finding.kind is not ReportKind.UNKNOWN else ()
    )
    return Report(
        kind=finding.kind,
        recipients=recipients,
        original_message_id=original_id,
        token=candidates[0] if candidates else None,
        token_candidates=candidates,
        envelope_id=finding.envelope_id,
        reporting_mta=finding.reporting_mta,
        reporting_ua=finding.reporting_ua,
        arrival_date=finding.arrival_date,
        date=ctx.header("date"),
        subject=ctx.header("subject"),
        message_id=message_id(ctx.header("message-id")),
        fingerprint=fingerprint(raw),
        problems=tuple(ctx.problems),
    )


def _may_hold_token(text: str, hints: ParseHints) -> bool:
    """False only when no address in the text can carry a token: one needs LOCAL<delimiter> in its local part
    (clues.tokens_from_addresses), so the quoted header lines are not looked for in a text without it."""
    if not hints.delimiter:
        return True
    if not hints.local_part:  # any local part (clues._token_of)
        return hints.delimiter in text
    stem = hints.local_part + hints.delimiter
    # ASCII only: a local part that lower-cases to it then holds it lower-cased in the lower-cased text.
    return not stem.isascii() or stem.lower() in text.lower()


_INLINE_MSGID = LinePattern(lazy(r"^[ \t]*message-id\s*:\s*(<[^>\s]+>)", re.I | re.M))


def _inline_message_id(text: str) -> str | None:
    match = _INLINE_MSGID.search(text)
    return match.group(1) if match else None


_OWN_HEADERS = re.compile(rb"^(message-id|date|from|subject)[ \t]*:(.*(?:\r?\n[ \t].*)*)", re.I | re.M)


def fingerprint(raw: bytes) -> str:
    """Stable across redelivery: the body and the report's own identity headers, never transport headers."""
    head, body = mime.split_raw(raw)
    hashing = digest.sha256(len(raw))
    for name, value in sorted((m.group(1).lower(), b" ".join(m.group(2).split())) for m in _own_headers(head)):
        hashing.update(name + b":" + value + b"\n")
    hashing.update(b"\n")
    # Line ends made LF (no CR is left, so no per-line loop: 10 MB of empty lines is ten million lines).
    hashing.update(body.replace(b"\r\n", b"\n").replace(b"\r", b"\n").rstrip(b"\n"))
    result: str = hashing.hexdigest()
    return result


_OWN_NAMES = (b"message-id", b"date", b"from", b"subject")


def _own_headers(head: bytes) -> list[re.Match[bytes]]:
    """_OWN_HEADERS.finditer(head), tried only at the line starts that begin with one of the names (found in the
    lower-cased copy: re.I on bytes folds ASCII only, as bytes.lower does); a match never spans the start of a
    line that could begin another (its continuation lines begin with a space or a tab)."""
    lowered = head.lower()
    found: list[re.Match[bytes]] = []
    for name in _OWN_NAMES:
        needle = b"\n" + name
        at = 0 if lowered.startswith(name) else lowered.find(needle) + 1
        if at == 0 and not lowered.startswith(name):
            continue
        while True:
            match = _OWN_HEADERS.match(head, at)
            if match is not None:
                found.append(match)
            at = lowered.find(needle, at) + 1  # from `at`: the line feed before a name at `at` is behind it
            if at == 0:
                break
    return found


def _empty(raw: bytes, problems: list[str]) -> Report:
    try:
        print_ = fingerprint(raw)
    except Exception:
        hashing = digest.sha256(len(raw))
        hashing.update(raw)
        print_ = hashing.hexdigest()
    return Report(
        kind=ReportKind.UNKNOWN, recipients=(), original_message_id=None, token=None, token_candidates=(),
        envelope_id=None, reporting_mta=None, reporting_ua=None, arrival_date=None, date=None, subject=None,
        message_id=None, fingerprint=print_, problems=tuple(problems),
    )
