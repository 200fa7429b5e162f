"""Shared by the dialects: the failure text before the returned copy, cut into one block of lines per listed address."""

from __future__ import annotations

from collections.abc import Iterable

from maild.core.frozen import replace
from maild.core.lazyre import LazyPattern
from maild.core.prefilter import Searchable
from maild.reports import dsn, retrying
from maild.reports.context import Context, Finding
from maild.reports.model import ReportKind
from maild.reports.fields import normalize_address
from maild.reports.model import RecipientResult


def before(text: str, marker: Searchable) -> str:
    """The text up to the marker of the returned message (all of it when there is none)."""
    match = marker.search(text)
    return text[: match.start()] if match else text


def by_address(body: str, address: LazyPattern, *, with_address_line: bool = False) -> list[tuple[str, str]]:
    """(address as printed, its lines) for each match of `address` (group 1): the text up to the next match."""
    starts = list(address.finditer(body))
    if not starts:
        return []
    ends = [m.start() for m in starts[1:]] + [len(body)]
    return [(m.group(1), body[m.start() if with_address_line else m.end(): end]) for m, end in zip(starts, ends, strict=True)]


def qmail_layout(ctx: Context, greeting: LazyPattern, marker: LazyPattern, address: LazyPattern) -> Finding | None:
    """A notice in qmail's layout (a greeting, `<address>:` blocks, the returned copy): each listed address failed.

    Transient failures are retried silently until the queue lifetime ends, so such a notice is always final.
    """
    text = ctx.body_text[:60000]
    if not greeting.found_in(text[:3000]):
        return None
    pairs = by_address(before(text, marker), address)
    return Finding(kind=ReportKind.BOUNCE, recipients=recipients(pairs, retrying.Retry.GAVE_UP))


def recipients(blocks: Iterable[tuple[str, str]], retry: retrying.Retry | None) -> list[RecipientResult]:
    """(address as printed, its lines) pairs to results; an unusable address is skipped, a repeated one kept once."""
    from maild.reports.bounce import recipient  # the heuristics' compiled tables load only when a dialect parses

    out: list[RecipientResult] = []
    seen: set[str] = set()
    for printed, lines in blocks:
        address = normalize_address(printed)
        if address is None or address.lower() in seen:
            continue
        seen.add(address.lower())
        out.append(recipient(address, lines, lines, retry))
    return out


def from_status_part(ctx: Context, retry: retrying.Retry | None) -> Finding | None:
    """When the notice also carries an RFC 3464 part, its fields are read as usual and the notice's words set the action.

    The fields hold the Original-Recipient, the envelope id and the reporting MTA that the text leaves out;
    the text is what says whether the MTA gave up (its Status may be a summary such as 5.0.0 or 4.0.0).
    """
    finding = dsn.detect(ctx)
    if finding is None:
        return None
    # An Action field the MTA wrote is its own word for that recipient; the notice's words decide only where
    # the reader had to derive the action from the code.
    per_message, groups = dsn.status_groups(ctx)
    host = dsn.reporting_host(per_message)
    explicit = {address for g in groups if g.get("action") and (address := dsn.recipient_address(g, host))}
    if retry is None or explicit >= {r.address for r in finding.recipients}:
        return finding
    derived = with_action(Finding(kind=finding.kind, recipients=[r for r in finding.recipients if r.address not in explicit]), retry)
    kept = {r.address: r for r in (derived.recipients if derived else [])}
    finding.recipients = [kept.get(r.address, r) if r.address not in explicit else r for r in finding.recipients]
    return finding


def from_generic_text(ctx: Context, retry: retrying.Retry | None) -> Finding | None:
    """The heuristic reader's recipients, with the action the dialect read from the notice's words."""
    from maild.reports import bounce  # loaded only when a dialect falls back to it

    return with_action(bounce.detect(ctx), retry)


def with_action(finding: Finding | None, retry: retrying.Retry | None) -> Finding | None:
    if finding is None or retry is None:
        return finding
    wanted = "delayed" if retry is retrying.Retry.KEEPS_TRYING else "failed"
    finding.recipients = [
        replace(r, action=wanted, hard=r.hard if wanted == "failed" else False) if r.action in ("failed", "delayed") else r
        for r in finding.recipients
    ]
    return finding
