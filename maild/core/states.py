"""States: where a recipient, a reply and our own delivery of one copy stand, and the sets the rules use."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class RecipientState(StrEnum):
    QUEUED = "queued"
    DEFERRED = "deferred"
    DELIVERED = "delivered"
    DELAYED = "delayed"
    READ = "read"
    DECLINED = "declined"
    DELETED_UNREAD = "deleted_unread"
    BOUNCED = "bounced"
    FAILED = "failed"


class ReplyState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    READ_BY_CC = "read_by_cc"
    READ_BY_TO = "read_by_to"
    READ = "read"
    FAILED = "failed"


class DeliveryState(StrEnum):
    """Where our own delivery of one copy stands; drives the scheduler."""

    QUEUED = "queued"
    DEFERRED = "deferred"
    ACCEPTED = "accepted"
    FAILED = "failed"

    @property
    def final(self) -> bool:
        return self in FINAL_DELIVERY


FAILED_STATES = frozenset({RecipientState.FAILED, RecipientState.BOUNCED})
READ_STATES = frozenset({RecipientState.READ, RecipientState.DECLINED, RecipientState.DELETED_UNREAD})
DELIVERED_STATES = frozenset({RecipientState.DELIVERED, *READ_STATES})

# Copies our delivery still has to hand to the upstream (the scheduler's work, the queue's contents).
UNFINISHED_DELIVERY = frozenset({DeliveryState.QUEUED, DeliveryState.DEFERRED})
FINAL_DELIVERY = frozenset({DeliveryState.ACCEPTED, DeliveryState.FAILED})


def sql_list(values: Iterable[StrEnum]) -> str:
    """A set of enum values as an SQL list literal, "('deferred','queued')", sorted so statements are stable.

    Only for enum members (fixed identifiers, no quotes), never for data.
    """
    return "(" + ",".join(f"'{v.value}'" for v in sorted(values, key=lambda v: v.value)) + ")"
