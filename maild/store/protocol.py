"""The store's interface: what intake, delivery, receipts, webhooks and the HTTP API may ask of a store.

A store runs *jobs*: functions of one database connection that read or
write, each in one transaction. ``maild.store.Store`` is the SQLite backend
(one writer thread, a pool of readers); the parts of the daemon hold a
``StorePort`` (or only the half they use) and never reach past it, so a
second backend only has to run the same jobs (docs/architecture.md, "Store
backends", says what that takes). Writes of the same kind may be grouped:
a ``Batchable`` job names the function that stores many items at once.
"""

from __future__ import annotations

from collections.abc import Callable

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)
if TYPE_CHECKING:
    from typing import Any, Protocol, TypeVar, runtime_checkable
else:
    from maild.core.hints import Protocol, TypeVar, runtime_checkable

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Sequence

    import sqlite_utils

T = TypeVar("T")

__all__ = ["Batchable", "StorePort", "StoreReads", "StoreWrites", "WritesTogether"]


class Batchable:
    """A job that the writer may run with others sharing its `run_many`: `run_many(db, items)` returns one result per item."""

    __slots__ = ("run_many", "item")

    def __init__(self, run_many: Callable[[sqlite_utils.Database, list[Any]], list[Any]], item: Any) -> None:
        self.run_many = run_many
        self.item = item

    def __call__(self, db: sqlite_utils.Database) -> Any:
        return self.run_many(db, [self.item])[0]


class StoreReads(Protocol):
    """Runs read jobs on one consistent snapshot each, concurrently with the writer."""

    async def read(self, job: Callable[[sqlite_utils.Database], T]) -> T: ...


class StoreWrites(Protocol):
    """Runs write jobs, each in its own transaction; returns once the job's writes are durable."""

    async def write(self, job: Callable[[sqlite_utils.Database], T]) -> T: ...


@runtime_checkable
class WritesTogether(Protocol):
    """A store that can take several write jobs into one transaction (each still rolled back alone when it fails).

    Optional: a store without it is written job by job (receipts.writegroup falls back to `write`)."""

    def write_together(self, jobs: Sequence[Callable[[sqlite_utils.Database], Any]]) -> list[asyncio.Future[Any]]: ...


class StorePort(StoreReads, StoreWrites, Protocol):
    """Both halves: what the daemon hands its parts."""
