"""The counters each part keeps since start, one declared shape per part, read by /metrics at scrape time.

Every part owns one of these and only ever adds to it; maild.metrics exports
each field under a name of its own (nothing is found by reflection), so a
counter declared here without its series in maild.metrics fails a test.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class IntakeStats:
    """SMTP intake: messages spooled (250 sent), their recipients, transactions refused by reason."""

    accepted: int = 0
    recipients: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    presets: dict[str, int] = field(default_factory=dict)  # messages spooled, by the helpdesk preset that matched

    def reject(self, reason: str) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1


@dataclass(frozen=True, slots=True)
class DeliveryStats:
    """The scheduler at one instant: copies in flight and per-recipient outcomes since start."""

    in_flight: int
    accepted: int  # recipients the upstream answered 2xx (accepted, not yet delivered to a mailbox)
    deferred: int
    failed: int
    attempts: int  # copies attempted
    unrecorded: int = 0  # outcomes the upstream gave that wait for the store (delivery paused meanwhile)


@dataclass(slots=True)
class IngestStats:
    """The ingestor: reports handled, their events applied or already known, quarantines by reason, retries."""

    reports: int = 0
    applied_events: int = 0
    duplicate_events: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)
    failures: int = 0  # transient: the source keeps the message and tries again


@dataclass(slots=True)
class SourceStats:
    """One receipt source: up or not, its sessions and failures; for IMAP what IDLE and FETCH did."""

    connected: bool = False  # connected (IMAP), scanning (Maildir) or listening (LMTP)
    sessions: int = 0  # times the source became ready: an IMAP SELECT, a Maildir prepared, an LMTP bind
    failures: int = 0  # consecutive failed attempts, 0 again after one succeeds
    last_error: str | None = None  # the last failure's text: logs and tests only (server text stays out of labels)
    idles: int = 0  # IMAP IDLE commands issued (each renewal counts)
    idle_exits: dict[str, int] = field(default_factory=dict)  # why IDLE was left: push, renew, keepalive, pending
    fetch_missing: int = 0  # UIDs a FETCH did not return even when asked again (logged as imap_fetch_missing)
    too_large: int = 0  # messages over the parser's limit: fetched only in part and quarantined as too_large

    def failed(self, error: BaseException) -> None:
        self.failures += 1
        self.last_error = f"{type(error).__name__}: {error}"[:300]


@dataclass(slots=True)
class WebhookStats:
    """The webhook dispatcher: POSTs a receiver answered 2xx, and failed POSTs (each retried)."""

    delivered: int = 0
    failures: int = 0
