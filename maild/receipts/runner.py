"""The runner base of the receipt sources: run rounds until stopped, back off after a failure, keep the source's stats.

In the spirit of Mailman's runners: a source says what one round is
(`round()`: an IMAP session, a Maildir scan, an LMTP listener's life) and the
runner owns the rest: the loop, stop and wake, the backoff after a failed
round (maild.core.backoff, with jitter), `connected` for /healthz and one
`SourceStats` for /metrics. A failing round never ends the loop; it is logged
by the source (`log_failure`) and retried. A source that must not retry (a
listener whose port cannot be bound: the daemon should stop) sets `retries = False`.
A source that only reads (moves nothing) needs nothing else from the base.
"""

from __future__ import annotations

import asyncio

from maild.core.backoff import backoff, half_jitter
from maild.core.stats import SourceStats


class Runner:
    """`run()` until `stop()`; subclasses implement `round()` and `log_failure()`."""

    first_backoff: float = 0.5
    max_backoff: float = 300.0
    backoff_offset: int = 0  # added to the failure count: a source whose first retry should wait longer
    retries: bool = True

    def __init__(self, name: str) -> None:
        self.name = name
        self.stats = SourceStats()
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()

    @property
    def connected(self) -> bool:
        return self.stats.connected

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def wake(self) -> None:
        """Start the next round now instead of after its pause."""
        self._wake.set()

    async def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        await self.stopped()

    async def stopped(self) -> None:
        """Called by stop(): release what only the source knows of (a listener's socket)."""

    async def round(self) -> float | None:
        """One round; returns the pause before the next one (None: the next one starts at once)."""
        raise NotImplementedError

    def log_failure(self, error: Exception, retry_in: float) -> None:
        """Log a failed round with the source's own event name."""
        raise NotImplementedError

    async def finish_round(self) -> None:
        """After every round, failed or not (close a session)."""

    def retry_delay(self) -> float:
        return backoff(self.stats.failures + self.backoff_offset, self.first_backoff, self.max_backoff, jitter=half_jitter)

    async def run(self) -> None:
        while not self._stop.is_set():
            try:
                pause = await self.round()
                self.stats.failures = 0
            except Exception as exc:  # noqa: BLE001 - any failure: back off and run the round again
                if not self.retries:
                    raise
                self.stats.failed(exc)
                pause = self.retry_delay()
                self.log_failure(exc, pause)
            finally:
                await self.finish_round()
            if pause is not None and not self._stop.is_set():
                await self.pause(pause)

    async def pause(self, seconds: float) -> None:
        """Wait `seconds`, or less when woken or stopped."""
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), max(seconds, 0.0))
        except TimeoutError:
            pass
