"""What an upstream answer means for a recipient: accepted, deferred with backoff, or failed (5xx or expired). Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from maild.core.backoff import backoff
from maild.core.events import EventKind
from maild.core.reason_rules import reason_for
from maild.core.states import DeliveryState
from maild.delivery.copies import DueRecipient
from maild.delivery.protocol import ReplyClass
from maild.delivery.transport import Answer
from maild.core.record import StatusRecord


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    first_retry: float  # seconds
    max_retry: float
    lifetime: float


@dataclass(frozen=True, slots=True)
class Outcome:
    """One recipient's result of one attempt, ready to be stored."""

    recipient: int
    message: int
    state: DeliveryState
    event: EventKind
    attempts: int
    next_attempt_at: datetime | None
    record: StatusRecord
    natural_key: str
    at: datetime  # when the answer came


def decide(answer: Answer, rcpt: DueRecipient, received_at: datetime, now: datetime, policy: RetryPolicy) -> Outcome:
    attempts = rcpt.attempts + 1

    def record(action: str, reason: str | None = None, hard: bool | None = None) -> StatusRecord:
        return StatusRecord(
            status=answer.status, action=action, reason=reason, hard=hard, diagnostic=answer.text,
            remote_mta=answer.remote_mta, reply_code=answer.code,
        )

    key = f"delivery:{rcpt.id}:{attempts}"
    klass = answer.klass
    if klass is ReplyClass.POSITIVE:
        return Outcome(
            rcpt.id, rcpt.message, DeliveryState.ACCEPTED, EventKind.ACCEPTED, attempts, None,
            record("accepted"), key, now,
        )
    reason, hard = reason_for(answer.status, answer.text)  # the same taxonomy as bounces from the world
    if klass is ReplyClass.PERMANENT:
        return Outcome(
            rcpt.id, rcpt.message, DeliveryState.FAILED, EventKind.FAILED, attempts, None,
            record("failed", reason, hard), key, now,
        )
    if (now - received_at).total_seconds() >= policy.lifetime:
        return Outcome(
            rcpt.id, rcpt.message, DeliveryState.FAILED, EventKind.FAILED, attempts, None,
            record("failed", "expired", False), key, now,
        )
    return Outcome(
        rcpt.id, rcpt.message, DeliveryState.DEFERRED, EventKind.DEFERRED, attempts,
        now + timedelta(seconds=backoff(attempts, policy.first_retry, policy.max_retry)),
        record("delayed", reason, False), key, now,
    )
