"""Receipts ingest: one parsed report in, its events recorded exactly once (or the report quarantined), in one transaction.

`ingest_report` is the domain function every source calls (inside a writer
transaction); `Ingestor` is its async shell: parse in a thread, one
`Store.write`. Exactly once: every event has the natural key
`FINGERPRINT:RECIPIENT:KIND`, so a report seen again (redelivery, UIDVALIDITY
reset, a crash between the commit and the move) records nothing new. Two
MTAs' bounces of the same failure have different fingerprints; a second
`bounced` for the same recipient with the same status code is therefore also
counted as a duplicate (a different status code is a new fact and recorded).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlite_utils

from maild import clock, logs
from maild.config import Settings, TrackingSettings
from maild.correlate import Match, TokenProblem, TokenRejected, by_message_id, by_token
from maild.errors import StoreError, TransientError
from maild.model import EventKind
from maild.receipts import mapping
from maild.receipts import quarantine as q
from maild.receipts.quarantine import QuarantineReason
from maild.reports.correlation import ParseHints
from maild.reports.model import RecipientResult, Report, ReportKind
from maild.store.events import NewEvent, record_event
from maild.tokens import KeySet

log = logs.get("ingest")

Parser = Callable[[bytes, ParseHints], Report]


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    applied: int  # events recorded now
    duplicates: int  # events this report stands for that were already recorded
    quarantine: QuarantineReason | None  # why it was quarantined, None when it was not
    fingerprint: str = ""
    kind: str = ""
    quarantine_id: int | None = None

    @property
    def quarantined(self) -> bool:
        return self.quarantine is not None


def unparseable_fingerprint(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def ingest_report(
    db: sqlite_utils.Database,
    raw: bytes,
    report: Report | None,
    keys: KeySet,
    source: str,
    now: datetime,
    *,
    ref: str = "",
    parse_error: str | None = None,
    max_raw: int = q.MAX_RAW_BYTES,
) -> IngestOutcome:
    """Correlate one report and record its events, or quarantine it; run inside a write transaction.

    `report` None means the parser failed (`parse_error` says how); a quarantined report keeps at most
    `max_raw` raw bytes (the source's quarantine_max_bytes).
    """
    if report is None:
        return _quarantine(
            db, raw, None, source, ref, now, QuarantineReason.UNPARSEABLE, {"error": (parse_error or "")[:300]},
            max_raw=max_raw,
        )
    if report.kind is ReportKind.UNKNOWN:
        return _quarantine(db, raw, report, source, ref, now, QuarantineReason.NOT_A_REPORT, {}, max_raw=max_raw)
    pairs = _correlate(db, report, keys, now, source=source, ref=ref)
    if isinstance(pairs, QuarantineReason):
        return _quarantine(db, raw, report, source, ref, now, pairs, {}, max_raw=max_raw)
    applied = duplicates = usable = 0
    for match, result in pairs:
        kind = mapping.event_kind(report.kind, result)
        if kind is None:
            continue
        usable += 1
        if kind is EventKind.BOUNCED and _same_bounce_known(db, match.recipient_id, result.status, report.fingerprint):
            duplicates += 1
            continue
        event = NewEvent(
            recipient_id=match.recipient_id,
            message_id=match.message_id,
            kind=kind,
            at=mapping.event_time(report, result, queued_at=match.queued_at, received_at=now),
            source=source,
            record=mapping.status_record(report, result),
            detail=mapping.event_detail(report, result, via=match.via, ingest_source=source, ref=ref, received_at=now),
            natural_key=f"{report.fingerprint}:{match.recipient_id}:{kind}",
        )
        if record_event(db, event, recorded_at=now) is None:
            duplicates += 1
        else:
            applied += 1
    if usable == 0:
        return _quarantine(db, raw, report, source, ref, now, QuarantineReason.NO_USABLE_RESULT, {}, max_raw=max_raw)
    _note_report(db, report, source, ref, now, outcome="applied" if applied else "duplicate", events=applied)
    q.release(db, report.fingerprint, now)  # a retried quarantine item that now applies
    return IngestOutcome(applied, duplicates, None, report.fingerprint, str(report.kind))


def _correlate(
    db: sqlite_utils.Database, report: Report, keys: KeySet, now: datetime, *, source: str, ref: str
) -> list[tuple[Match, RecipientResult]] | QuarantineReason:
    """Pairs of (recipient row, what the report says about it), or why the report cannot be trusted or matched.

    The primary token must verify when it is well-formed (a wrong signature,
    an unknown key or a token no recipient holds quarantines the report).
    Further candidates, and a primary that is not even shaped like a maild
    token, are tried in order; one that fails is ignored (and counted) as
    long as another verifies. No verified token at all: quarantined, and
    never matched by Message-ID.
    """
    carried = [t for t in dict.fromkeys([report.token, *report.token_candidates]) if t]
    if carried:
        match: Match | None = None
        first_problem: QuarantineReason | None = None
        for token in carried:
            found = by_token(db, keys, token)
            if isinstance(found, TokenRejected):
                q.count_token_rejection(db, str(found.problem), now)
                log.warning(
                    "report_token_rejected",
                    problem=str(found.problem),
                    source=source,
                    ref=ref,
                    fingerprint=report.fingerprint,
                    token_prefix=token[:6],
                )
                problem = QuarantineReason(str(found.problem))
                if token == report.token and found.problem is not TokenProblem.MALFORMED:
                    return problem  # the token the report is addressed with is forged: never applied
                first_problem = first_problem or problem
                continue
            match = found
            break
        if match is None:
            return first_problem or QuarantineReason.TOKEN_MALFORMED
        results = report.recipients or (_blank(match.address),)
        return [(match, r) for r in results]
    pairs = []
    for result in report.recipients:
        found_by_id = by_message_id(db, report.original_message_id or "", (result.address, result.original_recipient))
        if found_by_id is not None:
            pairs.append((found_by_id, result))
    if not pairs:
        return QuarantineReason.NO_MATCH
    return pairs


def _blank(address: str) -> RecipientResult:
    """A report that names no recipient (an auto-reply, a complaint) is about the copy its token names."""
    return RecipientResult(address, None, None, None, None, None, None, None, None)


def _same_bounce_known(db: sqlite_utils.Database, recipient_id: int, status: str | None, fingerprint: str) -> bool:
    row = db.execute(
        """SELECT 1 FROM events WHERE recipient = ? AND kind = ? AND status IS ?
           AND (natural_key IS NULL OR natural_key NOT LIKE ?) LIMIT 1""",
        (recipient_id, str(EventKind.BOUNCED), status, fingerprint + ":%"),  # fingerprints are hex: no LIKE wildcards
    ).fetchone()
    return row is not None


def _note_report(
    db: sqlite_utils.Database, report: Report | None, source: str, ref: str, now: datetime, *,
    outcome: str, events: int, fingerprint: str | None = None, quarantine_id: int | None = None,
) -> None:
    db.execute(
        """INSERT INTO reports (fingerprint, kind, received_at, last_seen_at, seen, source, ref, outcome, events, quarantine)
           VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, ?)
           ON CONFLICT (fingerprint) DO UPDATE SET last_seen_at = excluded.last_seen_at, seen = reports.seen + 1,
               outcome = excluded.outcome, events = reports.events + excluded.events, quarantine = excluded.quarantine""",
        (
            fingerprint or (report.fingerprint if report else ""),
            str(report.kind) if report else "unparseable",
            clock.iso(now),
            clock.iso(now),
            source,
            ref,
            outcome,
            events,
            quarantine_id,
        ),
    )


def _quarantine(
    db: sqlite_utils.Database,
    raw: bytes,
    report: Report | None,
    source: str,
    ref: str,
    now: datetime,
    reason: QuarantineReason,
    extra: dict[str, Any],
    *,
    max_raw: int = q.MAX_RAW_BYTES,
) -> IngestOutcome:
    fingerprint = report.fingerprint if report else unparseable_fingerprint(raw)
    detail: dict[str, Any] = dict(extra)
    if report is not None:
        detail.update(mapping.report_headers(report))
        detail["recipients"] = [
            {"address": r.address, "original_recipient": r.original_recipient, "action": r.action,
             "status": r.status, "disposition": r.disposition}
            for r in report.recipients[:20]
        ]
        detail["has_token"] = bool(report.token or report.token_candidates)
    item = q.put(db, fingerprint=fingerprint, raw=raw, source=source, ref=ref, reason=reason, detail=detail, now=now,
                 max_bytes=max_raw)
    _note_report(db, report, source, ref, now, outcome="quarantined", events=0, fingerprint=fingerprint, quarantine_id=item)
    log.info("report_quarantined", reason=str(reason), source=source, ref=ref, fingerprint=fingerprint, quarantine_id=item)
    return IngestOutcome(0, 0, reason, fingerprint, str(report.kind) if report else "unparseable", item)


# ------------------------------------------------------------------ async shell


def hints_from(tracking: TrackingSettings) -> ParseHints:
    local, _, domain = tracking.return_path.rpartition("@")
    return ParseHints(local_part=local, delimiter=tracking.delimiter, domain=domain)


def default_parser() -> Parser:
    from maild import reports  # the parser package; imported late so the receipts side loads without it

    return reports.parse  # type: ignore[attr-defined,no-any-return]


@dataclass
class IngestStats:
    """Counters for /metrics and the benchmark."""

    reports: int = 0
    applied_events: int = 0
    duplicate_events: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)
    failures: int = 0  # transient: the source keeps the message and tries again


class Ingestor:
    """Parse (in a thread: CPU work) and record (one writer transaction) one raw report from any source."""

    def __init__(
        self, settings: Settings, store: Any, keys: KeySet, clock: Callable[[], datetime] = clock.now,
        *, parser: Parser | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.keys = keys
        self.clock = clock
        self.hints = hints_from(settings.tracking)
        self.parser = parser or default_parser()
        self.stats = IngestStats()

    async def ingest(self, raw: bytes, source: str, ref: str, *, max_raw: int | None = None) -> IngestOutcome:
        """Returns once the outcome is committed; raises TransientError (or StoreError) when nothing was.

        `max_raw`: most raw bytes a quarantine entry keeps (the source's quarantine_max_bytes; None: the default).
        """
        now = self.clock()
        limit = q.MAX_RAW_BYTES if max_raw is None else int(max_raw)
        report, error = await asyncio.to_thread(parse_safely, self.parser, raw, self.hints)
        try:
            outcome = await self.store.write(
                lambda db: ingest_report(
                    db, raw, report, self.keys, source, now, ref=ref, parse_error=error, max_raw=limit
                )
            )
        except (TransientError, StoreError):  # nothing committed: the source keeps the message for later
            self.stats.failures += 1
            raise
        except Exception as exc:  # noqa: BLE001 - a bug on one report must not wedge the source: hold it
            log.exception("report_ingest_failed", source=source, ref=ref)
            outcome = await self.store.write(
                lambda db: _quarantine(
                    db, raw, report, source, ref, now, QuarantineReason.INTERNAL_ERROR,
                    {"error": f"{type(exc).__name__}: {exc}"[:300]}, max_raw=limit,
                )
            )
        self._count(outcome)
        log.info(
            "report_ingested", source=source, ref=ref, kind=outcome.kind, applied=outcome.applied,
            duplicates=outcome.duplicates, quarantine=str(outcome.quarantine) if outcome.quarantine else None,
        )
        return outcome

    def _count(self, outcome: IngestOutcome) -> None:
        self.stats.reports += 1
        self.stats.applied_events += outcome.applied
        self.stats.duplicate_events += outcome.duplicates
        if outcome.quarantine is not None:
            key = str(outcome.quarantine)
            self.stats.quarantined[key] = self.stats.quarantined.get(key, 0) + 1


def parse_safely(parser: Parser, raw: bytes, hints: ParseHints) -> tuple[Report | None, str | None]:
    """The parser's report, or None and why: a parser crash on hostile input is a quarantine, not an outage."""
    try:
        return parser(raw, hints), None
    except Exception as exc:  # noqa: BLE001 - untrusted input
        return None, f"{type(exc).__name__}: {exc}"


def ingest_now(
    db: sqlite_utils.Database, raw: bytes, keys: KeySet, hints: ParseHints, source: str, ref: str, now: datetime,
    *, parser: Parser | None = None,
) -> IngestOutcome:
    """Parse and ingest on a command's own connection (pipe, quarantine retry), in one IMMEDIATE transaction."""
    from maild.store import transaction

    report, error = parse_safely(parser or default_parser(), raw, hints)
    return transaction(db, lambda d: ingest_report(d, raw, report, keys, source, now, ref=ref, parse_error=error))
