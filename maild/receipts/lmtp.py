"""LMTP receipts source: a listener the MTA hands receipts to, answering each recipient only after the commit.

The handler ingests the message once and gives every recipient the same
reply: 250 once the events (or the quarantine entry) are committed, 451 when
nothing could be committed, so the MTA keeps the message and retries.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiosmtpd.lmtp import LMTP

from maild import clock as clockmod
from maild import logs
from maild.config import ReceiptSource
from maild.receipts.quarantine import MAX_RAW_BYTES, raw_limit
from maild.receipts.runner import Runner
from maild.receipts.port import ReportIngestor
from maild.store import StorePort

log = logs.get("receipts.lmtp")

OK = "250 2.0.0 Ok: receipt recorded"
OK_HELD = "250 2.0.0 Ok: held in quarantine"
TEMPFAIL = "451 4.3.0 Cannot record the receipt now, try again later"


def replies(status: str, recipients: int) -> str:
    """LMTP answers DATA once per accepted recipient (RFC 2033 §4.2); aiosmtpd sends what the handler returns."""
    return "\r\n".join([status] * max(1, recipients))


class ReceiptHandler:
    """aiosmtpd handler: the policy side of the LMTP listener."""

    def __init__(self, ingestor: ReportIngestor, source_name: str, max_raw: int | None = None) -> None:
        self.ingestor = ingestor
        self.source_name = source_name
        self.max_raw = max_raw

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or b""
        ref = "lmtp:" + secrets.token_hex(4)
        try:
            outcome = await self.ingestor.ingest(raw, "lmtp", ref, max_raw=self.max_raw)
        except Exception as exc:  # noqa: BLE001 - nothing committed: the MTA must keep it
            log.warning("lmtp_receipt_deferred", ref=ref, peer=str(session.peer), error=f"{type(exc).__name__}: {exc}")
            return replies(TEMPFAIL, len(envelope.rcpt_tos))
        return replies(OK_HELD if outcome.quarantined else OK, len(envelope.rcpt_tos))


class LmtpSource(Runner):
    """Listens on the URL's HOST:PORT (port 0: any free port, see `port`) until stopped.

    Its one round is the listener's life; a port that cannot be bound is not retried (`retries = False`):
    the daemon stops with the error rather than run without the receipts it was told to take.
    """

    retries = False

    def __init__(
        self, settings: ReceiptSource, ingestor: ReportIngestor, store: StorePort, clock: Callable[[], datetime] = clockmod.now,
    ) -> None:
        url = settings.url
        super().__init__(url.display())
        self.settings = settings
        self.host, self.port = url.host, url.port
        self.handler = ReceiptHandler(ingestor, self.name, raw_limit(settings.quarantine_max_bytes))
        self._server: asyncio.AbstractServer | None = None

    @property
    def connected(self) -> bool:
        return self._server is not None and self._server.is_serving()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: LMTP(self.handler, data_size_limit=MAX_RAW_BYTES, hostname="maild", loop=loop),
            host=self.host,
            port=self.port,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self.stats.connected = True
        self.stats.sessions += 1
        log.info("lmtp_source_listening", host=self.host, port=self.port)

    async def round(self) -> None:
        if self._server is None:
            await self.start()
        await self._stop.wait()

    def log_failure(self, error: Exception, retry_in: float) -> None:  # never called: retries is False
        log.error("lmtp_source_failed", source=self.name, error=f"{type(error).__name__}: {error}")

    async def stopped(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        self.stats.connected = False
