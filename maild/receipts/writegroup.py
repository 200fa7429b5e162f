"""Reports parsed side by side commit side by side: a report's write waits, briefly, for the reports still parsing beside it.

A source hands the Ingestor a batch at once (the Maildir source its
`batch_size` files, the IMAP source a FETCH's messages), and each report is
written as soon as its parse answers. The store's writer commits every job
waiting when it starts a transaction, but with the parses in worker processes
(issue 14) the answers trickle in one by one, so most transactions held a
handful of reports: 28 commits per 500 reports against 10 when the parse ran
in a thread, each one an fdatasync (3-7 ms on this host's disk).

So the Ingestor counts the parses in flight, and a parsed report's write waits
until none is left, or `most` writes are waiting, or `hold` seconds have
passed since the first of them began waiting: then all of them are handed to
the writer in one go, and it commits them in one transaction. Each is still
its own job (its own SAVEPOINT: a failing report rolls back alone) and each
caller still returns only once its own write is durable. A report parsed
alone (one LMTP message, one IMAP IDLE push) has no one to wait for and is
written at once; a slow or hostile parse delays the others' commit by `hold`
at most, never by its own deadline.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from maild.core.sqldb import Db
from maild.store.protocol import StoreWrites, WritesTogether

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)
if TYPE_CHECKING:
    from typing import Any, TypeAlias, TypeVar
else:
    from maild.core.hints import TypeVar

if TYPE_CHECKING:  # asyncio is the daemon's, loaded already: `maild ingest` (ingest_now) never loads it
    import asyncio

T = TypeVar("T")
HOLD = 0.5  # seconds a parsed report's write waits at most for the parses beside it
MOST = 64  # writes held together at most (the writer takes up to 256 jobs per transaction)

_Held: TypeAlias = "tuple[Callable[[Any], Any], asyncio.Future[Awaitable[Any]]]"


class WriteGroup:
    """Counts parses in flight and holds their writes so that they go to the writer together. One event loop's."""

    def __init__(self, *, hold: float = HOLD, most: int = MOST) -> None:
        self.hold = hold
        self.most = most
        self._parsing = 0
        self._store: StoreWrites | None = None
        self._held: list[_Held] = []
        self._timer: asyncio.TimerHandle | None = None

    @property
    def parsing(self) -> int:
        return self._parsing

    @property
    def waiting(self) -> int:
        return len(self._held)

    def started(self) -> None:
        """A parse began (call `finished` when it ends, however it ends)."""
        self._parsing += 1

    def finished(self) -> None:
        """A parse ended: when it was the last one in flight, every held write goes."""
        self._parsing = max(0, self._parsing - 1)
        if self._parsing == 0:
            self._release()

    async def write(self, store: StoreWrites, job: Callable[[Db], T]) -> T:
        """`store.write(job)`, held while other parses are in flight (module docstring); returns once it is durable."""
        if self._parsing == 0 and not self._held:
            return await store.write(job)  # nothing parsing beside it: at once
        if self._store is not None and self._store is not store:
            self._release()  # another store's writes (never in the daemon: one store) are not held with these
        self._store = store
        import asyncio

        loop = asyncio.get_running_loop()
        ready: asyncio.Future[Awaitable[Any]] = loop.create_future()
        self._held.append((job, ready))
        if self._parsing == 0 or len(self._held) >= self.most:
            self._release()  # the group is complete
        elif self._timer is None:
            self._timer = loop.call_later(self.hold, self._release)
        try:
            written = await ready
        finally:
            if ready.cancelled() or not ready.done():  # cancelled while held: it is not written
                self._held = [h for h in self._held if h[1] is not ready]
        result: T = await written
        return result

    def _release(self) -> None:
        held, self._held = [h for h in self._held if not h[1].done()], []
        store, self._store = self._store, None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not held or store is None:
            return
        jobs = [job for job, _ in held]
        if isinstance(store, WritesTogether):
            futures: list[Awaitable[Any]] = list(store.write_together(jobs))  # one queue entry: one transaction
        else:
            import asyncio

            futures = [asyncio.ensure_future(store.write(job)) for job in jobs]
        for (_, ready), written in zip(held, futures, strict=True):
            ready.set_result(written)
