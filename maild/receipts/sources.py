"""Receipt sources: build the source (IMAP, Maildir, LMTP listener) each [[receipts]] URL names."""

from __future__ import annotations

from typing import Protocol

from maild.config import Settings
from maild.core.stats import SourceStats
from maild.core.urls import Scheme
from maild.receipts.port import ReportIngestor
from maild.store import StorePort


class Source(Protocol):
    """What the daemon runs: `run()` until `stop()`; `connected` for /healthz, `stats` for /metrics.

    Every source is a maild.receipts.runner.Runner; this is the part the daemon sees.
    """

    name: str
    stats: SourceStats

    @property
    def connected(self) -> bool: ...

    async def run(self) -> None: ...

    async def stop(self) -> None: ...


def build_sources(settings: Settings, ingestor: ReportIngestor, store: StorePort) -> list[Source]:
    """One source per [[receipts]] table, chosen by the URL's scheme."""
    from maild.receipts.imap import ImapSource
    from maild.receipts.lmtp import LmtpSource
    from maild.receipts.maildir import MaildirSource

    sources: list[Source] = []
    for table in settings.receipts:
        url = table.url
        if url.scheme is Scheme.MAILDIR:
            sources.append(MaildirSource(table, ingestor, store, clock=ingestor.clock))
        elif url.scheme is Scheme.LMTP:
            sources.append(LmtpSource(table, ingestor, store, clock=ingestor.clock))
        else:
            sources.append(ImapSource(table, ingestor, store, clock=ingestor.clock))
    return sources
