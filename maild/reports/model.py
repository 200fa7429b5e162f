"""The typed values the report parser returns: one Report per message, one RecipientResult per recipient.

`maild parse --json` shows them through maild.core.jsonvalue.to_json, field by field.
"""

from __future__ import annotations

from maild.core.events import ReportKind as ReportKind  # defined beside EventSource, whose names it shares
from maild.core.frozen import frozen
from maild.core.reasons import Reason


@frozen
class RecipientResult:
    """What a report says about one recipient, whatever kind of report said it: a claim, not the recipient's status.

    It is the parser's reading of the message (`maild parse --json` shows it as DESIGN.md documents, with the
    report's own words: Original-Recipient, the MDN disposition and its modifiers, the DSN's dates). Whether it
    applies, and to whom, is decided later; once it does, maild.receipts.mapping turns it into an event with the
    one status record (maild.core.record.StatusRecord). Its reason is the core's typed reason (the one table in
    maild.core.reasons), and it goes out through the one encoder like every record.
    """

    address: str | None
    original_recipient: str | None
    action: str | None
    status: str | None
    reason: Reason | None  # the core reason table's name (maild.core.reasons)
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


@frozen
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
