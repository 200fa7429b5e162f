"""The store series' read job: one snapshot of queue, reports, tokens, quarantine and webhook backlog per scrape."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from datetime import datetime

import sqlite_utils

from maild import clock
from maild.core.states import DeliveryState


@dataclass(frozen=True, slots=True)
class StoreSnapshot:
    """What the store says at one instant; every tuple is (label value(s), number)."""

    queue: tuple[tuple[str, int], ...] = ()  # recipients by delivery_state
    oldest_queued_age: float = 0.0  # seconds since the oldest message with a non-final recipient arrived
    reports: tuple[tuple[str, str, int], ...] = ()  # (kind, outcome, count) of distinct reports seen
    token_rejections: tuple[tuple[str, int], ...] = ()
    quarantine: tuple[tuple[str, int], ...] = ()  # quarantined messages by state
    webhook_backlog: tuple[tuple[str, int], ...] = ()  # (url without credentials or query, events not yet sent)
    writeback: tuple[tuple[str, str, int], ...] = ()  # (target, outbox status, rows)


def _tables(db: sqlite_utils.Database) -> set[str]:
    return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def read_snapshot(db: sqlite_utils.Database, now: datetime) -> StoreSnapshot:
    """The read job behind the store series: a few indexed aggregate queries, tolerant of older schemas."""
    tables = _tables(db)
    queue = tuple(
        (str(state), int(n))
        for state, n in db.execute("SELECT delivery_state, count(*) FROM recipients GROUP BY delivery_state")
    )
    pending = [str(s) for s in DeliveryState if not s.final]
    oldest = db.execute(
        f"""SELECT min(m.received_at) FROM recipients r JOIN messages m ON m.id = r.message
            WHERE r.delivery_state IN ({', '.join('?' * len(pending))})""",
        pending,
    ).fetchone()[0]
    age = max(0.0, (now - clock.parse_iso(oldest)).total_seconds()) if oldest else 0.0
    reports: tuple[tuple[str, str, int], ...] = ()
    if "reports" in tables:
        reports = tuple(
            (str(kind), str(outcome), int(n))
            for kind, outcome, n in db.execute("SELECT kind, outcome, count(*) FROM reports GROUP BY kind, outcome")
        )
    rejections: tuple[tuple[str, int], ...] = ()
    if "token_rejections" in tables:
        rejections = tuple((str(r), int(n)) for r, n in db.execute("SELECT reason, count FROM token_rejections"))
    quarantine: tuple[tuple[str, int], ...] = ()
    if "quarantine" in tables:
        quarantine = tuple(
            (str(s), int(n)) for s, n in db.execute("SELECT state, count(*) FROM quarantine GROUP BY state")
        )
    backlog: tuple[tuple[str, int], ...] = ()
    if "webhook_cursors" in tables:
        backlog = tuple(
            (safe_url(url), int(n))
            for url, n in db.execute(
                """SELECT c.url, (SELECT count(*) FROM events e WHERE e.id > c.last_event)
                   FROM webhook_cursors c ORDER BY c.url"""
            )
        )
    writeback: tuple[tuple[str, str, int], ...] = ()
    if "writeback_outbox" in tables:
        writeback = tuple(
            (str(t), str(st), int(n))
            for t, st, n in db.execute("SELECT target, status, count(*) FROM writeback_outbox GROUP BY target, status")
        )
    return StoreSnapshot(queue, age, reports, rejections, quarantine, backlog, writeback)


def safe_url(url: str) -> str:
    """A URL fit for a label: scheme, host and path only (user info and query may hold secrets)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


def source_label(name: str) -> str:
    """A receipt source's name fit for a label or a health problem: URLs lose their credentials, and a path
    its folders (an unauthenticated scrape must not map the machine): `maildir:/var/lib/maild/receipts` ->
    `maildir:receipts`."""
    if "://" in name:
        return safe_url(name)
    scheme, sep, rest = name.partition(":")
    if sep and rest:
        return f"{scheme}:{rest.rstrip('/').rsplit('/', 1)[-1]}"
    return name
