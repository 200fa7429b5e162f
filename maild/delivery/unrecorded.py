"""Outcomes the store could not record: held in memory and retried as writes, never as sends.

A copy the upstream has answered must not go to the upstream again because
its answer could not be written (a full disk, another process holding the
lock): that made four copies of each message in a few minutes of outage.
The scheduler keeps such a copy's recipients out of every pick while its
outcome waits here, pauses picking new work while anything waits, and writes
the lot again with backoff until the store takes it.

Memory does not survive a crash or a stop, so each held outcome is also
written to the outcome journal (maild.delivery.journal), space allocated before
the disk filled, and replayed into the store before the next run picks
anything. Only an outcome the journal could not take either (it was full, or
could not be allocated) can still cost a duplicate after a crash: the spool
says queued, so that copy is sent again (at-least-once, as for a crash in flight).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from maild.delivery.copies import Copy
from maild.delivery.outcome import Outcome


@dataclass(frozen=True, slots=True)
class Held:
    copy: Copy
    outcomes: tuple[Outcome, ...]
    since: float  # monotonic
    journaled: bool = False  # also in the outcome journal: survives a crash or a stop


@dataclass
class Unrecorded:
    """The waiting outcomes, by recipient id; pure bookkeeping, the scheduler does the writing."""

    _held: list[Held] = field(default_factory=list)
    failures: int = 0  # write attempts that failed since the first outcome was held
    last_error: str | None = None

    def hold(self, copy: Copy, outcomes: list[Outcome], error: BaseException, *, journaled: bool = False) -> None:
        self._held.append(Held(copy, tuple(outcomes), time.monotonic(), journaled))
        self.last_error = str(error)

    def __len__(self) -> int:
        return sum(len(h.outcomes) for h in self._held)

    def __bool__(self) -> bool:
        return bool(self._held)

    def __iter__(self) -> Iterator[Held]:
        return iter(list(self._held))

    def recipient_ids(self) -> set[int]:
        return {r.id for h in self._held for r in h.copy.recipients}

    def outcomes(self) -> list[Outcome]:
        return [o for h in self._held for o in h.outcomes]

    def snapshot(self) -> list[Held]:
        """What is held now: the next write records these (copies answered during that write are held after them)."""
        return list(self._held)

    def take(self, written: list[Held]) -> None:
        """These are recorded now: no longer held (the caller releases and counts them)."""
        done = {id(h) for h in written}
        self._held = [h for h in self._held if id(h) not in done]
        if not self._held:
            self.failures, self.last_error = 0, None

    def all_journaled(self) -> bool:
        return all(h.journaled for h in self._held)

    def oldest_seconds(self) -> float:
        return time.monotonic() - min(h.since for h in self._held) if self._held else 0.0
