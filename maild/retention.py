"""Retention and erasure: delete old events per kind, forget a recipient's address (GDPR), keep anonymous counts.

Every deletion adds the number of erased events per day and kind to
`erased_counts`, so statistics survive without the personal data. The
functions here run inside a write transaction (`Store.write` in the daemon,
`store.transaction` in a command); `retention_loop` is what the daemon runs.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from maild import logs
from maild.clock import iso
from maild.config import RetentionSettings, Settings
from maild.core.events import EventKind
from maild.store import StoreWrites
from maild.core.sqldb import Db

log = logs.get("retention")

BATCH = 5000
ERASED_ADDRESS = "(erased)"


@dataclass(frozen=True, slots=True)
class PurgeResult:
    """What a purge deleted (`maild purge --json` shows it through maild.core.jsonvalue)."""

    deleted: int = 0  # events in all
    by_kind: Mapping[str, int] = field(default_factory=dict)  # event kind -> events deleted, by kind name


def purged(counts: Mapping[str, int]) -> PurgeResult:
    return PurgeResult(sum(counts.values()), dict(sorted(counts.items())))


def cutoffs(policy: RetentionSettings, now: datetime) -> dict[str, str]:
    """The time before which events of each kind are deleted; kinds kept for ever are absent."""
    out = {}
    for kind in EventKind:
        age = policy.kinds.get(str(kind), policy.events)
        if age > 0:
            out[str(kind)] = iso(now - timedelta(seconds=age))
    return out


def _count_erased(db: Db, rows: list[tuple[int, str, str]], cause: str) -> None:
    counts = Counter((at[:10], kind) for _id, kind, at in rows)
    db.conn.executemany(
        """INSERT INTO erased_counts (day, kind, cause, count) VALUES (?, ?, ?, ?)
           ON CONFLICT (day, kind, cause) DO UPDATE SET count = count + excluded.count""",
        [(day, kind, cause, n) for (day, kind), n in counts.items()],
    )


def purge_batch(db: Db, limits: Mapping[str, str], *, cause: str, batch: int = BATCH) -> PurgeResult:
    """Delete at most `batch` events older than their kind's cutoff; call again until it deletes nothing."""
    deleted: Counter[str] = Counter()
    left = batch
    for kind, before in sorted(limits.items()):
        if left <= 0:
            break
        rows = db.execute(
            "SELECT id, kind, at FROM events WHERE kind = ? AND at < ? ORDER BY at LIMIT ?", (kind, before, left)
        ).fetchall()
        if not rows:
            continue
        _count_erased(db, rows, cause)
        db.conn.executemany("DELETE FROM events WHERE id = ?", [(r[0],) for r in rows])
        deleted[kind] += len(rows)
        left -= len(rows)
    return purged(deleted)


def purge(
    transact: Callable[[Callable[[Db], PurgeResult]], PurgeResult],
    limits: Mapping[str, str],
    *,
    cause: str,
) -> PurgeResult:
    """Delete every event older than its kind's cutoff (`maild purge`), one short transaction per batch.

    `transact(job)` runs one job in its own transaction, so the daemon's writer
    (intake, ingest) waits for a batch, never for the whole purge.
    """
    total: Counter[str] = Counter()
    while True:
        result = transact(lambda db: purge_batch(db, limits, cause=cause))
        if not result.deleted:
            return purged(total)
        total.update(result.by_kind)


@dataclass(frozen=True, slots=True)
class ForgetResult:
    recipients: int
    events: int
    messages_scrubbed: int
    quarantine_erased: int = 0
    answers_erased: int = 0  # inbound_replies rows written by the address or counting for it


def forget(db: Db, address: str) -> ForgetResult:
    """Erase one address: its events, the address itself, its tokens and SMTP replies, and its mentions in
    stored headers and bodies; counts of the erased events stay in erased_counts (cause 'forget')."""
    address = address.strip()
    pattern = address_pattern(address)
    quarantined = _forget_quarantined(db, pattern)
    recipients = db.execute("SELECT id, message FROM recipients WHERE address = ? COLLATE NOCASE", (address,)).fetchall()
    answers = db.execute(
        "DELETE FROM inbound_replies WHERE author = ? COLLATE NOCASE OR recipient IN"
        " (SELECT id FROM recipients WHERE address = ? COLLATE NOCASE)",
        (address, address),
    ).rowcount
    if not recipients:
        return ForgetResult(0, 0, 0, quarantined, answers)
    ids = [r[0] for r in recipients]
    marks = ",".join("?" * len(ids))
    rows = db.execute(f"SELECT id, kind, at FROM events WHERE recipient IN ({marks})", ids).fetchall()
    _count_erased(db, rows, "forget")
    db.execute(f"DELETE FROM events WHERE recipient IN ({marks})", ids)
    # A copy not yet delivered is given up: there is no address left to deliver it to.
    db.execute(
        f"""UPDATE recipients SET address = ?, token = NULL, last_reply = NULL,
                   delivery_state = CASE WHEN delivery_state IN ('accepted', 'failed') THEN delivery_state ELSE 'failed' END
            WHERE id IN ({marks})""",
        [ERASED_ADDRESS, *ids],
    )
    scrubbed = 0
    for mid in sorted({r[1] for r in recipients}):
        headers, body = db.execute("SELECT headers, body FROM messages WHERE id = ?", (mid,)).fetchone()
        new_headers = pattern.sub(b"erased@invalid", headers)
        new_body = None if body is None else pattern.sub(b"erased@invalid", body)
        if new_headers != headers or new_body != body:
            db.execute("UPDATE messages SET headers = ?, body = ? WHERE id = ?", (new_headers, new_body, mid))
            scrubbed += 1
    return ForgetResult(len(ids), len(rows), scrubbed, quarantined, answers)


def address_pattern(address: str) -> re.Pattern[bytes]:
    """The address as a whole word: forgetting an@example.com must not touch jan@example.com or an@example.com.au."""
    return re.compile(
        rb"(?<![A-Za-z0-9.!#$%&'*+/=?^_`{|}~-])" + re.escape(address.encode()) + rb"(?![A-Za-z0-9-]|\.[A-Za-z0-9])",
        re.IGNORECASE,
    )


def _forget_quarantined(db: Db, pattern: re.Pattern[bytes]) -> int:
    """Held receipts that mention the address are deleted whole: their raw bytes are about that person."""
    doomed = [
        qid
        for qid, raw, detail in db.execute("SELECT id, raw, detail FROM quarantine")
        if (raw is not None and pattern.search(raw)) or (detail and pattern.search(detail.encode()))
    ]
    for qid in doomed:
        db.execute("UPDATE reports SET quarantine = NULL WHERE quarantine = ?", (qid,))
        db.execute("DELETE FROM quarantine WHERE id = ?", (qid,))
    return len(doomed)


async def retention_loop(
    settings: Settings, store: StoreWrites, clock: Callable[[], datetime], *, stop: asyncio.Event | None = None
) -> None:
    """Enforce [retention] every `interval` until cancelled or `stop` is set; one failed round is logged, not fatal."""
    stop = stop or asyncio.Event()
    while not stop.is_set():
        try:
            await enforce(settings.retention, store, clock())
        except Exception as exc:  # a failing round must not end the loop
            log.error("retention_failed", error=str(exc))
        try:
            await asyncio.wait_for(stop.wait(), settings.retention.interval)
        except TimeoutError:
            pass


async def enforce(policy: RetentionSettings, store: StoreWrites, now: datetime) -> PurgeResult:
    """One retention round through the store's writer, in small batches so other writes interleave."""
    limits = cutoffs(policy, now)
    total: Counter[str] = Counter()
    if not limits:
        return PurgeResult()
    while True:
        result = await store.write(lambda db: purge_batch(db, limits, cause="retention"))
        if not result.deleted:
            break
        total.update(result.by_kind)
    if total:
        log.info("retention_purged", deleted=sum(total.values()), by_kind=dict(total))
    return purged(total)
