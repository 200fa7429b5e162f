"""Inbound sources: build the source (IMAP, Maildir, LMTP hop) each [[inbound]] table's URL names."""

from __future__ import annotations

from typing import Any

from maild.config import Settings
from maild.core.urls import Scheme
from maild.receipts.sources import Source


def build_inbound(settings: Settings, store: Any) -> list[Source]:
    """One source per [[inbound]] table, chosen by the URL's scheme."""
    from maild.inbound.imap import InboundImapSource
    from maild.inbound.maildir import InboundMaildirSource

    sources: list[Source] = []
    for table in settings.inbound:
        url = table.url
        if url.scheme is Scheme.MAILDIR:
            sources.append(InboundMaildirSource(table, store))
        elif url.scheme is Scheme.LMTP:
            from maild.inbound.lmtp import LmtpHop

            sources.append(LmtpHop(table, store))
        else:
            sources.append(InboundImapSource(table, store))
    return sources
