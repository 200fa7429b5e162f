"""Inbound matching: an answer's headers in, a `replied` event for the recipient who wrote it (or a note on the reply) out.

`decide` is pure: given the answer's headers and the reply maild sent that it
names (found by In-Reply-To, else the newest maild Message-ID in References),
it says whether the author is one of that reply's recipients (From, else
Sender, else Reply-To; case and +tag differences tolerated), a third party,
or a machine (RFC 3834 and friends: never a reply). `record_answer` is its
store side, run inside one write transaction: the `replied` event (source
`reply`) and the row in `inbound_replies`, both idempotent on the answer's
key, so a restart or a second source never doubles anything. An answer that
names no reply maild sent (a new ticket, a forged In-Reply-To) records
nothing at all: its headers are not kept.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum

import sqlite_utils

from maild.clock import iso
from maild.core.events import EventKind, EventSource, Via
from maild.inbound.headers import InboundHeaders, automatic, normalize
from maild.model import StatusRecord
from maild.store.events import NewEvent, record_event

_VIAS = frozenset(v.value for v in Via)


class Verdict(StrEnum):
    REPLY = "reply"  # a recipient of the reply answered: read
    THIRD_PARTY = "third_party"  # someone else answered (a colleague it was forwarded to): kept on the reply only
    AUTOMATIC = "automatic"  # an auto-reply, out-of-office, list or bounce: never a reply
    NOT_OURS = "not_ours"  # names no reply maild sent: nothing recorded


@dataclass(frozen=True, slots=True)
class SentRecipient:
    id: int
    address: str


@dataclass(frozen=True, slots=True)
class SentReply:
    message: int  # messages.id
    message_id: str
    queued_at: str
    recipients: tuple[SentRecipient, ...]


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    reply: SentReply | None = None
    recipients: tuple[SentRecipient, ...] = ()  # who it counts for (verdict reply)
    author: str | None = None
    matched_by: str | None = None  # from, sender, reply-to
    why: str | None = None  # for automatic: which mark said so


def decide(h: InboundHeaders, sent: Sequence[SentReply]) -> Decision:
    """What one answer means, given the replies maild sent among those it names (most direct first)."""
    if not sent:
        return Decision(Verdict.NOT_OURS)
    reply = sent[0]
    author = (h.from_ or h.sender or h.reply_to or (None,))[0]
    why = automatic(h)
    if why is not None:
        return Decision(Verdict.AUTOMATIC, reply, author=author, why=why)
    for matched_by, addresses in (("from", h.from_), ("sender", h.sender), ("reply-to", h.reply_to)):
        wanted = {normalize(a) for a in addresses}
        found = tuple(r for r in reply.recipients if normalize(r.address) in wanted)
        if found:
            return Decision(Verdict.REPLY, reply, found, author=author, matched_by=matched_by)
    return Decision(Verdict.THIRD_PARTY, reply, author=author)


def sent_replies(db: sqlite_utils.Database, message_ids: Sequence[str]) -> list[SentReply]:
    """The replies maild sent under these Message-IDs, in the order given (the latest message per id)."""
    out: list[SentReply] = []
    for mid in message_ids:
        row = db.execute(
            "SELECT id, message_id, received_at FROM messages WHERE message_id = ? AND tracked = 1 ORDER BY id DESC LIMIT 1",
            (mid,),
        ).fetchone()
        if row is None:
            continue
        recipients = tuple(
            SentRecipient(int(rid), address)
            for rid, address in db.execute("SELECT id, address FROM recipients WHERE message = ? ORDER BY id", (row[0],))
        )
        out.append(SentReply(int(row[0]), row[1], row[2], recipients))
        break  # the most direct one is the reply answered; older ones in References were answered before
    return out


CLOCK_SKEW = timedelta(minutes=5)  # as for reports: a Date this far ahead of maild's clock still counts


def _date(text: str | None) -> datetime | None:
    """An RFC 5322 Date as aware UTC (this package stays free of the report parser, which has its own)."""
    if not text:
        return None
    try:
        moment = parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError):
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def answer_time(h: InboundHeaders, reply: SentReply, now: datetime) -> datetime:
    """The answer's Date when it lies between the reply's queueing and now (plus skew); else now."""
    moment = _date(h.date)
    if moment is not None and iso(moment) >= reply.queued_at and moment <= now + CLOCK_SKEW:
        return moment
    return now


@dataclass(frozen=True, slots=True)
class Recorded:
    decision: Decision
    events: int  # replied events recorded now
    duplicate: bool  # the answer was recorded before (another source, a restart)


def record_answer(
    db: sqlite_utils.Database, h: InboundHeaders, *, source: str, via: str, ref: str, now: datetime
) -> Recorded:
    """Match one answer and record what it means; run inside a write transaction."""
    decision = decide(h, sent_replies(db, h.referenced()))
    if decision.verdict is Verdict.NOT_OURS or decision.reply is None:
        return Recorded(decision, 0, False)
    reply = decision.reply
    at = answer_time(h, reply, now)
    recipient = decision.recipients[0].id if decision.recipients else None
    kept = {
        "message_id": h.message_id, "in_reply_to": list(h.in_reply_to), "from": list(h.from_),
        "sender": list(h.sender), "reply_to": list(h.reply_to), "date": h.date, "why": decision.why,
    }
    cursor = db.execute(
        """INSERT INTO inbound_replies (key, source, via, ref, verdict, message, recipient, author, matched_by, at,
                                        recorded_at, headers)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING""",
        (h.key, source, via, ref, str(decision.verdict), reply.message, recipient, decision.author,
         decision.matched_by, iso(at), iso(now), json.dumps(kept, ensure_ascii=False, sort_keys=True)),
    )
    duplicate = cursor.rowcount == 0
    events = 0
    if decision.verdict is Verdict.REPLY:
        for r in decision.recipients:
            event = NewEvent(
                recipient_id=r.id,
                message_id=reply.message,
                kind=EventKind.REPLIED,
                at=at,
                source=EventSource.REPLY,
                record=StatusRecord(action="replied"),
                detail={"via": via, "inbound_source": source, "ref": ref, "author": decision.author,
                        "matched_by": decision.matched_by, "answer_message_id": h.message_id,
                        "received_at": iso(now)},
                natural_key=f"reply:{h.key}:{r.id}:replied",
                via=Via(via) if via in _VIAS else None,  # how the answer reached maild
            )
            if record_event(db, event, recorded_at=now) is not None:
                events += 1
    return Recorded(decision, events, duplicate and events == 0)
