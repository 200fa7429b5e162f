"""Matching: which recipient of which message a report is about, by signed token or by Message-ID.

Pure functions over the database. The trust rules: a token must verify under
the key set *and* be the token stored for that recipient; only a report that
carries no token at all may be matched by its original Message-ID plus a
recipient address, and then only to a message maild sent to that address.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

from maild import tokens
from maild.clock import parse_iso
from maild.core.frozen import frozen
from maild.core.sqldb import Db


class MatchedBy(StrEnum):
    TOKEN = "token"
    MESSAGE_ID = "message_id"


@frozen
class Match:
    """One recipient row a report is about."""

    recipient_id: int
    message_id: int  # messages.id
    address: str
    # The earliest credible time of a report about this copy: when the upstream last accepted it (a DSN cannot
    # predate that; report dates have whole seconds, maild's own events milliseconds), else when maild queued it.
    queued_at: datetime
    matched_by: MatchedBy


class TokenProblem(StrEnum):
    MALFORMED = "token_malformed"
    UNKNOWN_KEY = "token_unknown_key"
    BAD_SIGNATURE = "token_bad_signature"
    UNKNOWN_RECIPIENT = "token_unknown_recipient"  # signature fine, but no recipient holds this token


@frozen
class TokenRejected:
    """A token found in a report that did not verify, and why."""

    token: str
    problem: TokenProblem


_REJECTION = {
    tokens.Rejection.MALFORMED: TokenProblem.MALFORMED,
    tokens.Rejection.UNKNOWN_KEY: TokenProblem.UNKNOWN_KEY,
    tokens.Rejection.BAD_SIGNATURE: TokenProblem.BAD_SIGNATURE,
}

_SELECT = """SELECT r.id, r.message, r.address,
                    MAX(m.received_at, COALESCE((SELECT MAX(e.at) FROM events e
                                                 WHERE e.recipient = r.id AND e.kind = 'accepted'), '')),
                    r.token
             FROM recipients r JOIN messages m ON m.id = r.message"""


def by_token(db: Db, keys: tokens.KeySet, token: str) -> Match | TokenRejected:
    """The recipient a token names, or why the token is not trusted."""
    token = token.strip().lower()
    checked = tokens.verify(keys, token)
    if isinstance(checked, tokens.Rejected):
        return TokenRejected(token, _REJECTION[checked.reason])
    row = db.execute(_SELECT + " WHERE r.id = ?", (checked.recipient_id,)).fetchone()
    if row is None or (row[4] or "").lower() != token:
        return TokenRejected(token, TokenProblem.UNKNOWN_RECIPIENT)
    return Match(int(row[0]), int(row[1]), row[2], parse_iso(row[3]), MatchedBy.TOKEN)


def by_message_id(db: Db, message_id: str, addresses: Iterable[str | None]) -> Match | None:
    """The recipient of the message with this Message-ID whose address is one of `addresses` (case-insensitive)."""
    wanted = [a.strip().strip("<>").lower() for a in addresses if a and a.strip().strip("<>")]
    if not message_id or not wanted:
        return None
    marks = ", ".join("?" * len(wanted))
    row = db.execute(
        _SELECT + f" WHERE m.message_id = ? AND lower(r.address) IN ({marks}) ORDER BY r.id LIMIT 1",
        (message_id.strip(), *wanted),
    ).fetchone()
    if row is None:
        return None
    return Match(int(row[0]), int(row[1]), row[2], parse_iso(row[3]), MatchedBy.MESSAGE_ID)
