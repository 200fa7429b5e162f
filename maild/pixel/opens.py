"""Recording an open: a fetched image's token verified, the fetch classified, one `opened` event per recipient and kind.

`record_open` runs inside a write transaction. A token that does not verify
(forged, unknown key, no such recipient) records nothing and is counted like
rejected by the caller; the HTTP side answers the same image either way. The
natural key `pixel:RECIPIENT:KIND` makes one human and one machine open per
recipient at most, however often the image is fetched. The address and user
agent of the fetch are kept only with `[pixel] keep_client`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlite_utils

from maild.clock import parse_iso
from maild.core.events import EventKind, EventSource
from maild.receipts.matching import TokenRejected, by_token
from maild.model import StatusRecord
from maild.pixel.classify import Rules, Verdict, classify
from maild.store.events import NewEvent, record_event
from maild.tokens import KeySet


@dataclass(frozen=True, slots=True)
class OpenOutcome:
    recorded: bool  # a new opened event
    verdict: Verdict | None  # None: the token did not verify
    problem: str | None = None  # why the token was refused


def delivered_at(db: sqlite_utils.Database, recipient: int) -> datetime | None:
    row = db.execute(
        "SELECT min(at) FROM events WHERE recipient = ? AND kind IN ('accepted', 'delivered', 'relayed')", (recipient,)
    ).fetchone()
    return parse_iso(row[0]) if row and row[0] else None


def record_open(
    db: sqlite_utils.Database, keys: KeySet, token: str, *, user_agent: str | None, client: str | None,
    now: datetime, rules: Rules, keep_client: bool,
) -> OpenOutcome:
    found = by_token(db, keys, token)
    if isinstance(found, TokenRejected):
        return OpenOutcome(False, None, str(found.problem))
    since = delivered_at(db, found.recipient_id)
    age = (now - since).total_seconds() if since is not None else None
    verdict = classify(user_agent, client, age, rules)
    detail: dict[str, object] = {"label": verdict.label, "via": "http", "seconds_after_delivery": age}
    if keep_client:
        detail.update(client=client, user_agent=(user_agent or "")[:300])
    event = NewEvent(
        recipient_id=found.recipient_id,
        message_id=found.message_id,
        kind=EventKind.OPENED,
        at=now,
        source=EventSource.PIXEL,
        record=StatusRecord(action=str(verdict.kind)),
        detail=detail,
        natural_key=f"pixel:{found.recipient_id}:{verdict.kind}",
    )
    return OpenOutcome(record_event(db, event, recorded_at=now) is not None, verdict)
