"""The subject index's catch-up: messages stored since the last batch are added to `message_subjects` in one write.

Intake writes no index entry (that would cost every SMTP transaction); the daemon runs
`index_subjects` every few seconds, and a search reads the index up to `indexed_upto` and the few
newer messages directly (maild.queries).
"""

from __future__ import annotations


from maild import logs
from maild.core.sqldb import Db
from maild.store.protocol import StoreWrites

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)

if TYPE_CHECKING:
    import asyncio  # the daemon's loop runs keep_indexed; a command importing maild.store never loads asyncio

log = logs.get("store")

BATCH = 5000  # messages per write: a short transaction, so the writer stays free for intake


def indexed_upto(db: Db) -> int:
    """The newest message id in the subject index (every older one is in it too)."""
    row = db.execute("SELECT upto FROM subject_index_state").fetchone()
    return 0 if row is None else int(row[0])


def index_subjects(db: Db, limit: int = BATCH) -> int:
    """Add the next `limit` messages' subjects to the index; how many messages it looked at. In a write transaction."""
    upto = indexed_upto(db)
    last, count = db.execute(
        "SELECT max(id), count(*) FROM (SELECT id FROM messages WHERE id > ? ORDER BY id LIMIT ?)", (upto, limit)
    ).fetchone()
    if not count:
        return 0
    # One statement for the batch, inside SQLite: no subject crosses into Python and back, no statement per row.
    db.execute(
        "INSERT INTO message_subjects (rowid, subject)"
        " SELECT id, subject FROM messages WHERE id > ? AND id <= ? AND subject IS NOT NULL",
        (upto, last),
    )
    db.execute("UPDATE subject_index_state SET upto = ?", (int(last),))
    return int(count)


async def keep_indexed(store: StoreWrites, interval: float, *, stop: asyncio.Event | None = None) -> None:
    """The daemon's catch-up loop: batches until the index reaches the newest message, then a look every `interval`."""
    import asyncio

    stop = stop or asyncio.Event()
    while not stop.is_set():
        try:
            while await store.write(index_subjects) == BATCH and not stop.is_set():
                pass  # a backlog (a store migrated with mail arriving): batch after batch, other writes between
        except Exception as exc:  # noqa: BLE001 - a failed round (a full disk) is logged; search reads around it
            log.warning("subject_index_failed", error=str(exc))
        try:
            await asyncio.wait_for(stop.wait(), interval)
        except TimeoutError:
            pass
