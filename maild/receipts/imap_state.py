"""The IMAP folder's UID state: UIDVALIDITY and the last UID handled, how they move (pure), and their row in the store.

last_uid only ever grows, and never past a message whose outcome is not
committed: one that failed, or one a FETCH did not return while the folder
still holds it. UIDs above last_uid already handled (moved, or copied and
flagged) are remembered in `DoneUids` so that they are not taken again while
last_uid waits below a gap. A changed UIDVALIDITY starts again from UID 1:
exactly-once recording makes the rescan safe.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import sqlite_utils

from maild.clock import iso


@dataclass(frozen=True, slots=True)
class FolderState:
    uidvalidity: int
    last_uid: int


def on_select(stored: FolderState | None, uidvalidity: int) -> FolderState:
    """The state to follow after SELECT: the stored one, or UID 0 when there is none or UIDVALIDITY changed."""
    if stored is None or stored.uidvalidity != uidvalidity:
        return FolderState(uidvalidity, 0)
    return stored


def advance(state: FolderState, batch: Iterable[int], done: Iterable[int], waiting: Iterable[int]) -> FolderState:
    """last_uid after a batch: just below the lowest UID still waiting (failed, or missing but present), else the
    highest UID of the batch or done; never lower than before."""
    waiting = list(waiting)
    last = min(waiting) - 1 if waiting else max([*batch, *done])
    return FolderState(state.uidvalidity, max(state.last_uid, last))


@dataclass(slots=True)
class DoneUids:
    """UIDs above last_uid whose outcome is committed and that were moved (or, without UIDPLUS, copied and flagged)."""

    uidvalidity: int = 0
    uids: set[int] = field(default_factory=set)

    def above(self, state: FolderState) -> set[int]:
        """The done UIDs still above last_uid (forgetting the others); a new UIDVALIDITY forgets them all."""
        if self.uidvalidity != state.uidvalidity:
            self.uidvalidity, self.uids = state.uidvalidity, set()
            return self.uids
        self.uids.difference_update([u for u in self.uids if u <= state.last_uid])
        return self.uids


def load_state(db: sqlite_utils.Database, source: str) -> FolderState | None:
    row = db.execute("SELECT uidvalidity, last_uid FROM imap_state WHERE source = ?", (source,)).fetchone()
    return FolderState(int(row[0]), int(row[1])) if row else None


def save_state(db: sqlite_utils.Database, source: str, state: FolderState, now: datetime) -> None:
    db.execute(
        """INSERT INTO imap_state (source, uidvalidity, last_uid, updated_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (source) DO UPDATE SET uidvalidity = excluded.uidvalidity, last_uid = excluded.last_uid,
                                              updated_at = excluded.updated_at""",
        (source, state.uidvalidity, state.last_uid, iso(now)),
    )
