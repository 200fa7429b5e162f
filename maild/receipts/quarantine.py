"""The quarantine table: reports that could not be parsed, correlated or verified, kept with their raw bytes for retry."""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum

from maild.clock import iso
from maild.core.frozen import frozen
from maild.store import Row, named_row, named_rows
from maild.core.sqldb import Db

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)
if TYPE_CHECKING:
    from typing import Any

# Default of receipts[].quarantine_max_bytes: a report bigger than this is kept cut (its retry may then fail to parse).
MAX_RAW_BYTES = 10 * 1024 * 1024


def raw_limit(setting: float | None) -> int:
    """A source's quarantine_max_bytes as a byte count (None, from a ReceiptSource built in code: the default)."""
    return MAX_RAW_BYTES if setting is None else max(0, int(setting))


class QuarantineReason(StrEnum):
    UNPARSEABLE = "unparseable"  # the parser raised
    NOT_A_REPORT = "not_a_report"  # kind unknown: spam, a human reply...
    TOKEN_MALFORMED = "token_malformed"
    TOKEN_UNKNOWN_KEY = "token_unknown_key"
    TOKEN_BAD_SIGNATURE = "token_bad_signature"  # forged (or signed by a key that is gone)
    TOKEN_UNKNOWN_RECIPIENT = "token_unknown_recipient"  # valid signature, but no recipient holds it
    NO_MATCH = "no_match"  # no token and no message maild sent matches Message-ID + address
    UNTOKENED_UNAUTHENTICATED = "untokened_unauthenticated"  # no token, and no aligned DKIM/trusted A-R vouches for it
    NO_USABLE_RESULT = "no_usable_result"  # correlated, but nothing in it maps to an event
    INTERNAL_ERROR = "internal_error"  # a bug while ingesting: kept so it can be retried after a fix
    TOO_LARGE = "too_large"  # bigger than the parser's limit: held unparsed, only its first bytes kept
    PARSE_TIMEOUT = "parse_timeout"  # the parse outran its hard deadline and its worker was killed (maild.receipts.parsework)


class QuarantineState(StrEnum):
    HELD = "held"
    RELEASED = "released"  # a retry applied it


@frozen
class QuarantineItem:
    """One quarantined message as the store keeps it."""

    id: int
    fingerprint: str
    source: str
    ref: str
    reason: QuarantineReason
    detail: dict[str, Any]
    received_at: str
    size: int
    truncated: bool
    state: QuarantineState
    seen: int
    retried_at: str | None


def put(
    db: Db,
    *,
    fingerprint: str,
    raw: bytes,
    source: str,
    ref: str,
    reason: QuarantineReason,
    detail: dict[str, Any],
    now: datetime,
    max_bytes: int = MAX_RAW_BYTES,
    size: int | None = None,
) -> int:
    """Hold one report; the same report quarantined again updates its row (one row per fingerprint).

    At most `max_bytes` of the raw message are kept; `size` is the full size and `truncated` says it was cut.
    `size`: the message's full size when `raw` is already only its beginning (a partial IMAP fetch).
    """
    kept = raw[: max(0, int(max_bytes))]
    full = max(len(raw), int(size or 0))
    db.execute(
        """INSERT INTO quarantine (fingerprint, source, ref, reason, detail, received_at, size, raw, truncated, state, seen)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'held', 1)
           ON CONFLICT (fingerprint) DO UPDATE SET
               reason = excluded.reason, detail = excluded.detail, source = excluded.source, ref = excluded.ref,
               state = 'held', seen = quarantine.seen + 1""",
        (
            fingerprint,
            source,
            ref,
            str(reason),
            json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str),
            iso(now),
            full,
            kept,
            int(len(kept) < full),
        ),
    )
    return int(db.execute("SELECT id FROM quarantine WHERE fingerprint = ?", (fingerprint,)).fetchone()[0])


def release(db: Db, fingerprint: str, now: datetime) -> None:
    """A retry applied it: keep the row (and raw bytes) for the record, marked released."""
    db.execute(
        "UPDATE quarantine SET state = 'released', retried_at = ? WHERE fingerprint = ?", (iso(now), fingerprint)
    )


def release_id(db: Db, item_id: int, now: datetime) -> None:
    """A retry of this item applied (whatever fingerprint its bytes parse to now)."""
    db.execute("UPDATE quarantine SET state = 'released', retried_at = ? WHERE id = ?", (iso(now), item_id))


def hold_again(
    db: Db, item_id: int, *, reason: QuarantineReason, detail: dict[str, Any], now: datetime
) -> bool:
    """A retry of this item failed again: its row takes the new reason (detail merged over the old), seen + 1, held.

    Its raw bytes, size and truncation are kept. False when there is no such row.
    """
    row = db.execute("SELECT detail FROM quarantine WHERE id = ?", (item_id,)).fetchone()
    if row is None:
        return False
    merged = {**(json.loads(row[0]) if row[0] else {}), **detail}
    db.execute(
        "UPDATE quarantine SET reason = ?, detail = ?, state = 'held', seen = seen + 1, retried_at = ? WHERE id = ?",
        (str(reason), json.dumps(merged, ensure_ascii=False, sort_keys=True, default=str), iso(now), item_id),
    )
    return True


def mark_retried(db: Db, item_id: int, now: datetime) -> None:
    db.execute("UPDATE quarantine SET retried_at = ? WHERE id = ?", (iso(now), item_id))


_COLUMNS = "id, fingerprint, source, ref, reason, detail, received_at, size, truncated, state, seen, retried_at"


def _item(row: Row) -> QuarantineItem:
    return QuarantineItem(
        id=int(row["id"]),
        fingerprint=row["fingerprint"],
        source=row["source"],
        ref=row["ref"] or "",
        reason=QuarantineReason(row["reason"]),
        detail=json.loads(row["detail"]) if row["detail"] else {},
        received_at=row["received_at"],
        size=int(row["size"] or 0),
        truncated=bool(row["truncated"]),
        state=QuarantineState(row["state"]),
        seen=int(row["seen"] or 1),
        retried_at=row["retried_at"],
    )


def items(db: Db, *, include_released: bool = False, limit: int = 1000) -> list[QuarantineItem]:
    where = "" if include_released else "WHERE state = 'held'"
    rows = named_rows(db, f"SELECT {_COLUMNS} FROM quarantine {where} ORDER BY id LIMIT ?", (limit,))
    return [_item(r) for r in rows]


def get(db: Db, item_id: int) -> tuple[QuarantineItem, bytes] | None:
    row = named_row(db, f"SELECT {_COLUMNS}, raw FROM quarantine WHERE id = ?", (item_id,))
    if row is None:
        return None
    return _item(row), bytes(row["raw"] or b"")


def delete(db: Db, item_id: int, *, fingerprint: str | None = None) -> QuarantineItem | None:
    """Drop one item and its raw bytes for good (an administrator's decision); what it was, or None when absent.

    `fingerprint`: only if the row still holds that report. Row ids are reused after the newest row is
    deleted, so a confirmation page names the report it showed, never merely an id another report may have
    taken since. Its `reports` row stays, without its quarantine id: if the same report arrives again it
    is held again, never silently taken for a duplicate of something applied. Run in a write transaction.
    """
    row = named_row(db, f"SELECT {_COLUMNS} FROM quarantine WHERE id = ?", (item_id,))
    if row is None or (fingerprint is not None and row["fingerprint"] != fingerprint):
        return None
    db.execute("UPDATE reports SET quarantine = NULL WHERE quarantine = ?", (item_id,))
    db.execute("DELETE FROM quarantine WHERE id = ?", (item_id,))
    return _item(row)


def count_token_rejection(db: Db, reason: str, now: datetime) -> None:
    db.execute(
        """INSERT INTO token_rejections (reason, count, last_at) VALUES (?, 1, ?)
           ON CONFLICT (reason) DO UPDATE SET count = token_rejections.count + 1, last_at = excluded.last_at""",
        (reason, iso(now)),
    )
