"""Live pages: one shared look at the store for new events, pushed to every open page as server-sent events.

One task reads the events table every `interval` while at least one page listens, whatever the
number of pages; a page is told only when an event of its ticket (or, for lists, any event) arrived,
and then fetches itself again. Nothing is read while nobody listens.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from maild import logs, queries

log = logs.get("web")

Read = Callable[[Callable[[Any], Any]], Awaitable[Any]]


class LiveHub:
    def __init__(self, read: Read, interval: float) -> None:
        self._read = read
        self.interval = interval
        self.latest = 0  # newest event id seen
        self.ticket_versions: dict[str, int] = {}  # ticket -> newest event id of it seen
        self.bumps = 0  # changes that are not events (a department switch): every page looks again
        self.listeners = 0
        self.reads = 0  # store reads made (for tests and benchmarks)
        self.closed = False
        self._changed = asyncio.Condition()

    async def run(self) -> None:
        self.latest = await self._read(queries.latest_event_id)
        while not self.closed:
            await asyncio.sleep(self.interval)
            if self.listeners == 0:
                continue
            try:
                self.reads += 1
                latest, tickets = await self._read(lambda db: queries.event_tickets_after(db, self.latest))
            except Exception as exc:  # noqa: BLE001 - a locked store now is fine next time; pages keep what they show
                log.warning("live_read_failed", error=str(exc))
                continue
            if latest == self.latest:
                continue
            self.latest = latest
            for t in tickets:
                self.ticket_versions[t] = latest
            async with self._changed:
                self._changed.notify_all()

    def version(self, ticket: str | None) -> int:
        """Grows whenever a page of `ticket` (None: a list) should look again: a sum of two counters that only grow."""
        return (self.latest if ticket is None else self.ticket_versions.get(ticket, 0)) + self.bumps

    async def bump(self) -> None:
        """Tell every open page to look again (read information of a department was switched on or off)."""
        self.bumps += 1
        async with self._changed:
            self._changed.notify_all()

    async def wait_change(self, ticket: str | None, seen: int, timeout: float) -> int:
        """Wait until the version of `ticket` (None: any event) passes `seen`, or `timeout`; returns the version."""
        async with self._changed:
            try:
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: self.closed or self.version(ticket) > seen), timeout
                )
            except TimeoutError:
                pass
        return self.version(ticket)

    async def close(self) -> None:
        self.closed = True
        async with self._changed:
            self._changed.notify_all()
