"""What the receipts sources (IMAP, Maildir, LMTP) hand their messages to: the ingestor's interface.

``maild.receipts.ingest.Ingestor`` implements it (parse in a thread, record in
one writer transaction); tests hand sources their own. A source calls it
once per message and treats a ``TransientError`` (or ``StoreError``) as
"nothing was recorded: keep the message and try again".
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # the outcome's module loads the parser: only its type is needed here
    from maild.receipts.ingest import IngestOutcome
    from maild.reports.clues import ParseHints


class ReportIngestor(Protocol):
    clock: Callable[[], datetime]  # the sources share the ingestor's clock
    hints: ParseHints  # max_bytes: a bigger message goes to quarantine_too_large unparsed

    async def ingest(self, raw: bytes, source: str, ref: str, *, max_raw: int | None = None) -> IngestOutcome:
        """Record one message's events (or quarantine it); returns once that is committed."""
        ...

    async def quarantine_too_large(
        self, head: bytes, size: int, source: str, ref: str, *, max_raw: int | None = None
    ) -> IngestOutcome:
        """Hold, unparsed, a message bigger than ``hints.max_bytes``; ``head`` is its first bytes."""
        ...
