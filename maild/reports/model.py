"""The typed values the report parser returns: one Report per message, one RecipientResult per recipient."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class ReportKind(StrEnum):
    DSN = "dsn"
    MDN = "mdn"
    BOUNCE = "bounce"
    AUTOREPLY = "autoreply"
    ARF = "arf"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class RecipientResult:
    """What a report says about one recipient, whatever kind of report said it."""

    address: str | None
    original_recipient: str | None
    action: str | None
    status: str | None
    reason: str | None
    hard: bool | None
    diagnostic: str | None
    remote_mta: str | None
    disposition: str | None
    disposition_modifiers: tuple[str, ...] = ()
    last_attempt_date: str | None = None
    will_retry_until: str | None = None

    @property
    def bounced(self) -> bool:
        return self.action in ("failed", "delayed")

    def to_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "action": self.action,
            "status": self.status,
            "reason": self.reason,
            "diagnostic": self.diagnostic,
            "disposition": self.disposition,
            "hard": self.hard,
            "original_recipient": self.original_recipient,
            "remote_mta": self.remote_mta,
            "disposition_modifiers": list(self.disposition_modifiers),
            "last_attempt_date": self.last_attempt_date,
            "will_retry_until": self.will_retry_until,
        }


@dataclass(frozen=True, slots=True)
class Report:
    """Everything the parser learnt from one message; kind UNKNOWN means it is not a report about our mail."""

    kind: ReportKind
    recipients: tuple[RecipientResult, ...]
    original_message_id: str | None
    token: str | None
    token_candidates: tuple[str, ...]
    envelope_id: str | None
    reporting_mta: str | None
    reporting_ua: str | None
    arrival_date: str | None
    date: str | None
    subject: str | None
    message_id: str | None
    fingerprint: str
    problems: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": str(self.kind),
            "original_message_id": self.original_message_id,
            "token": self.token,
            "recipients": [r.to_json() for r in self.recipients],
            "token_candidates": list(self.token_candidates),
            "envelope_id": self.envelope_id,
            "reporting_mta": self.reporting_mta,
            "reporting_ua": self.reporting_ua,
            "arrival_date": self.arrival_date,
            "date": self.date,
            "subject": self.subject,
            "message_id": self.message_id,
            "fingerprint": self.fingerprint,
            "problems": list(self.problems),
        }
