"""Dialects: one module per MTA or provider notice format, each a cheap header-only `matches()` and a `parse()`, in one list.

Like Sisimai's Lhost modules: `matches(ctx)` looks at the top-level headers only (From, Subject, a
signature header), so a message pays a few string tests per dialect; `parse(ctx)` reads the notice the way
that MTA writes it (where its per-recipient lines are, what marks the returned copy, what says "given up")
and returns None when the body is not in that format after all. The first dialect whose parse finds
recipients wins. The generic readers (RFC 3464 fields in ``dsn``, the text heuristics of ``bounce``) come
after all dialects and stay the last resort for formats nobody wrote a module for.

Registered: OpenSMTPD, Yahoo (qmail's layout, Yahoo's headers), qmail, Exim, Postfix, Sendmail, Courier, Gmail,
Exchange/Office 365, Amazon SES (its email feedback; its JSON through SNS via ``maild.reports.ses``, which also
stays a generic detector for JSON that arrives with other headers), and the fml mailing-list manager's refusals
and loop alerts.

Adding an MTA is one module here (``NAME``, ``matches``, ``parse``) registered in ``DIALECTS``, plus its
fixtures in tests/data/lhost with the expected results from the scenario that produced them.
"""

from __future__ import annotations


from maild.reports.context import Context, Finding
from maild.reports.lhost import amazonses, courier, exchange, exim, fml, gmail, opensmtpd, postfix, qmail, sendmail, yahoo

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)
if TYPE_CHECKING:
    from typing import Protocol
else:
    from maild.core.hints import Protocol


class Dialect(Protocol):
    """What a dialect module provides (a module satisfies it by its top-level names)."""

    NAME: str

    def matches(self, ctx: Context) -> bool: ...

    def parse(self, ctx: Context) -> Finding | None: ...


# Order matters only where two dialects could claim the same headers; the more specific comes first.
# Yahoo's notices are qmail's layout with Yahoo's headers: Yahoo first.
DIALECTS: tuple[Dialect, ...] = (opensmtpd, yahoo, qmail, exim, postfix, sendmail, courier, gmail, exchange, amazonses, fml)


def detect(ctx: Context) -> Finding | None:
    for dialect in DIALECTS:
        if dialect.matches(ctx):
            ctx.budget.check()
            finding = dialect.parse(ctx)
            if finding is not None and finding.recipients:
                ctx.note(f"dialect {dialect.NAME}")
                return finding
    return None
