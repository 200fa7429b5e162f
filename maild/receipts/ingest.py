"""Receipts ingest: one parsed report in, its events recorded exactly once (or the report quarantined), in one transaction.

`ingest_report` is the domain function every source calls (inside a writer
transaction); `Ingestor` is its async shell: parse in a thread (the parse
itself in a worker process), one `Store.write`, held briefly so that reports
parsed side by side commit together (`maild.receipts.writegroup`). Exactly once: every event has the natural key
`FINGERPRINT:RECIPIENT:KIND`, so a report seen again (redelivery, UIDVALIDITY
reset, a crash between the commit and the move) records nothing new. Two
MTAs' bounces of the same failure have different fingerprints; a second
`bounced` for the same recipient with the same status code is therefore also
counted as a duplicate (a different status code is a new fact and recorded).
"""

from __future__ import annotations

import atexit
from collections.abc import Callable
from datetime import datetime

from maild import clock, logs
from maild.config import Settings, TrackingSettings
from maild.core import digest
from maild.core.events import EventKind
from maild.core.frozen import frozen
from maild.receipts.matching import Match, TokenProblem, TokenRejected, by_message_id, by_token
from maild.errors import StoreError, TransientError
from maild.receipts import mapping
from maild.receipts import quarantine as q
from maild.receipts.authn import Resolver, UntokenedPolicy, aligned, authenticated_domains, default_resolver
from maild.receipts.parsework import ParseTimeout, WorkerParser
from maild.receipts.quarantine import QuarantineReason
from maild.receipts.writegroup import WriteGroup
from maild.reports.clues import ParseHints, hints_for
from maild.reports.model import RecipientResult, Report, ReportKind
from maild.store.events import NewEvent, record_event
from maild.store.protocol import StoreWrites
from maild.tokens import KeySet
from maild.core.sqldb import Db

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)
if TYPE_CHECKING:
    from typing import Any

log = logs.get("ingest")

Parser = Callable[[bytes, ParseHints], Report]


@frozen
class IngestOutcome:
    """What ingesting one report did: events recorded, duplicates, the quarantine if any."""

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
    hashing = digest.sha256(len(raw))
    hashing.update(raw)
    return "sha256:" + hashing.hexdigest()


STRICT = UntokenedPolicy()  # token-less reports need an aligned DKIM signature or trusted Authentication-Results


def ingest_report(
    db: Db,
    raw: bytes,
    report: Report | None,
    keys: KeySet,
    source: str,
    now: datetime,
    *,
    ref: str = "",
    parse_error: str | ParseTimeout | None = None,
    max_raw: int = q.MAX_RAW_BYTES,
    quarantine_id: int | None = None,
    authenticated: frozenset[str] = frozenset(),
    policy: UntokenedPolicy = STRICT,
) -> IngestOutcome:
    """Correlate one report and record its events, or quarantine it; run inside a write transaction.

    `authenticated`: the domains that vouch for `raw` (maild.receipts.authn, computed before the
    transaction: DNS never runs in the writer); a report without a token applies only to recipients
    whose domain one of them aligns with, unless `policy.allow_unauthenticated`.

    `report` None means the parser failed (`parse_error` says how: a ParseTimeout when its worker was killed at
    the deadline); a quarantined report keeps at most `max_raw` raw bytes (the source's quarantine_max_bytes).

    `quarantine_id`: `raw` is that quarantine item's stored bytes (a retry). The item itself is then
    released when the report applies, or updated (new reason, seen + 1) when it is held again, whatever
    fingerprint the retry parses to: a cut (truncated) or once-unparseable item parses to a different one,
    and no second row is made for it.
    """
    if report is None and isinstance(parse_error, ParseTimeout):
        log.warning("report_parse_timeout", source=source, ref=ref, size=len(raw), limit_seconds=parse_error.seconds)
        return _quarantine(
            db, raw, None, source, ref, now, QuarantineReason.PARSE_TIMEOUT, {"limit_seconds": parse_error.seconds},
            max_raw=max_raw, quarantine_id=quarantine_id,
        )
    if report is None:
        return _quarantine(
            db, raw, None, source, ref, now, QuarantineReason.UNPARSEABLE, {"error": str(parse_error or "")[:300]},
            max_raw=max_raw, quarantine_id=quarantine_id,
        )
    if report.kind is ReportKind.UNKNOWN:
        return _quarantine(db, raw, report, source, ref, now, QuarantineReason.NOT_A_REPORT, {},
                           max_raw=max_raw, quarantine_id=quarantine_id)
    pairs = _correlate(db, report, keys, now, source=source, ref=ref, authenticated=authenticated, policy=policy)
    if isinstance(pairs, QuarantineReason):
        return _quarantine(db, raw, report, source, ref, now, pairs, {}, max_raw=max_raw, quarantine_id=quarantine_id)
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
            source=report.kind.source,
            record=mapping.status_record(report, result),
            detail=mapping.event_detail(report, result, matched_by=match.matched_by, ingest_source=source, ref=ref, received_at=now),
            natural_key=_natural_key(report, match.recipient_id, kind),
            via=mapping.via_of(source),
        )
        if record_event(db, event, recorded_at=now) is None:
            duplicates += 1
        else:
            applied += 1
    if usable == 0:
        return _quarantine(db, raw, report, source, ref, now, QuarantineReason.NO_USABLE_RESULT, {},
                           max_raw=max_raw, quarantine_id=quarantine_id)
    _note_report(db, report, source, ref, now, outcome="applied" if applied else "duplicate", events=applied)
    q.release(db, report.fingerprint, now)  # the same report held earlier (from any source) now applies
    if quarantine_id is not None:
        q.release_id(db, quarantine_id, now)  # the retried item, whatever fingerprint it was held under
    return IngestOutcome(applied, duplicates, None, report.fingerprint, str(report.kind))


def _natural_key(report: Report, recipient_id: int, kind: EventKind) -> str:
    """What makes an event the same event: for an MDN the recipient and disposition alone (the same receipt
    resent with a new Message-ID is one read, not two); otherwise the report, the recipient and the kind."""
    if report.kind is ReportKind.MDN:
        return f"mdn:{recipient_id}:{kind}"
    return f"{report.fingerprint}:{recipient_id}:{kind}"


def _correlate(
    db: Db, report: Report, keys: KeySet, now: datetime, *, source: str, ref: str,
    authenticated: frozenset[str] = frozenset(), policy: UntokenedPolicy = STRICT,
) -> list[tuple[Match, RecipientResult]] | QuarantineReason:
    """Pairs of (recipient row, what the report says about it), or why the report cannot be trusted or matched.

    Trust (DESIGN, "Trust rules for reports"): every token the report carries
    (the primary one and every further candidate the parser found) is checked.
    Any well-formed one that fails verification (a wrong signature, an unknown
    key, or a valid signature on a token no recipient holds) quarantines the
    report, even when another candidate verifies. Only candidates not even
    shaped like a maild token (malformed) are skipped (and counted). The first
    candidate that verifies names the recipient. No verified token at all:
    quarantined, and never matched by Message-ID; only a report that carries
    no token at all is matched by Message-ID plus recipient address, and
    applied only to recipients an authenticated domain aligns with
    (`untokened_unauthenticated` otherwise).

    A token names one copy, so a report matched by token yields at most one
    fact per report about it: see `_results_for`.
    """
    carried = [t for t in dict.fromkeys([report.token, *report.token_candidates]) if t]
    if carried:
        match: Match | None = None
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
                if found.problem is not TokenProblem.MALFORMED:
                    return QuarantineReason(str(found.problem))  # a forged token anywhere: never applied
                continue
            match = match or found
        if match is None:
            return QuarantineReason.TOKEN_MALFORMED
        return [(match, r) for r in _results_for(report, match.address)]
    pairs = []
    refused = 0
    for result in report.recipients:
        found_by_id = by_message_id(db, report.original_message_id or "", (result.address, result.original_recipient))
        if found_by_id is None:
            continue
        if not policy.allow_unauthenticated and aligned(authenticated, found_by_id.address) is None:
            refused += 1  # the Message-ID is seen by every recipient: on its own it proves nothing
            continue
        pairs.append((found_by_id, result))
    if refused:
        log.warning(
            "report_untokened_unauthenticated", source=source, ref=ref, fingerprint=report.fingerprint,
            kind=str(report.kind), recipients=refused, authenticated=sorted(authenticated),
        )
    if not pairs:
        return QuarantineReason.UNTOKENED_UNAUTHENTICATED if refused else QuarantineReason.NO_MATCH
    return pairs


# Which result stands for the copy when a report about one token lists several: the most severe.
_SEVERITY = {
    EventKind.BOUNCED: 3,
    EventKind.DELAYED: 2,
    EventKind.DELIVERED: 1,
    EventKind.RELAYED: 1,
    EventKind.EXPANDED: 1,
}


def _results_for(report: Report, address: str) -> tuple[RecipientResult, ...]:
    """The recipient results of a token-matched report that are about the copy the token names.

    No result (an auto-reply, a complaint): one blank result for that copy.
    One result: that one. Several (a DSN for an expanded alias, a heuristic
    bounce listing several addresses): only those whose address or
    original_recipient is the token recipient's address (case-insensitive);
    when none is, or several are, the single most severe one (failed >
    delayed > delivered/relayed/expanded; an MDN's disposition, an
    auto-reply or a complaint rank alike, so the first one; a result that
    maps to no event ranks last). Never every result: one copy is never both
    delivered and bounced by one report.
    """
    results = report.recipients
    if not results:
        return (_blank(address),)
    if len(results) == 1:
        return results
    wanted = _norm(address)
    same = [r for r in results if wanted in (_norm(r.address), _norm(r.original_recipient))]
    pool = same or list(results)
    if len(pool) == 1:
        return (pool[0],)
    return (max(pool, key=lambda r: _rank(report.kind, r)),)  # max keeps the first of equals


def _rank(kind: ReportKind, result: RecipientResult) -> int:
    event = mapping.event_kind(kind, result)
    return -1 if event is None else _SEVERITY.get(event, 0)


def _norm(address: str | None) -> str:
    return (address or "").strip().strip("<>").strip().lower()


def _blank(address: str) -> RecipientResult:
    """A report that names no recipient (an auto-reply, a complaint) is about the copy its token names."""
    return RecipientResult(address, None, None, None, None, None, None, None, None)


def _same_bounce_known(db: Db, recipient_id: int, status: str | None, fingerprint: str) -> bool:
    row = db.execute(
        """SELECT 1 FROM events WHERE recipient = ? AND kind = ? AND status IS ?
           AND (natural_key IS NULL OR natural_key NOT LIKE ?) LIMIT 1""",
        (recipient_id, str(EventKind.BOUNCED), status, fingerprint + ":%"),  # fingerprints are hex: no LIKE wildcards
    ).fetchone()
    return row is not None


def _note_report(
    db: Db, report: Report | None, source: str, ref: str, now: datetime, *,
    outcome: str, events: int, fingerprint: str | None = None, quarantine_id: int | None = None,
    kind: str | None = None,
) -> None:
    db.execute(
        """INSERT INTO reports (fingerprint, kind, received_at, last_seen_at, seen, source, ref, outcome, events, quarantine)
           VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, ?)
           ON CONFLICT (fingerprint) DO UPDATE SET last_seen_at = excluded.last_seen_at, seen = reports.seen + 1,
               outcome = excluded.outcome, events = reports.events + excluded.events, quarantine = excluded.quarantine""",
        (
            fingerprint or (report.fingerprint if report else ""),
            kind or (str(report.kind) if report else "unparseable"),
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
    db: Db,
    raw: bytes,
    report: Report | None,
    source: str,
    ref: str,
    now: datetime,
    reason: QuarantineReason,
    extra: dict[str, Any],
    *,
    max_raw: int = q.MAX_RAW_BYTES,
    quarantine_id: int | None = None,
    size: int | None = None,
    fingerprint: str | None = None,
    kind: str | None = None,
) -> IngestOutcome:
    """Hold the report: a new row, the same report's row again, or (a retry) the retried item's own row."""
    fingerprint = fingerprint or (report.fingerprint if report else unparseable_fingerprint(raw))
    kind = kind or (str(report.kind) if report else "unparseable")
    detail: dict[str, Any] = dict(extra)
    if report is not None:
        detail.update(mapping.report_headers(report))
        detail["recipients"] = [
            {"address": r.address, "original_recipient": r.original_recipient, "action": r.action,
             "status": r.status, "disposition": r.disposition}
            for r in report.recipients[:20]
        ]
        detail["has_token"] = bool(report.token or report.token_candidates)
    item: int | None = None
    if quarantine_id is not None and q.hold_again(db, quarantine_id, reason=reason, detail=detail, now=now):
        item = quarantine_id  # a retry that still fails: the item keeps its row, raw bytes, size and truncation
    if item is None:
        item = q.put(db, fingerprint=fingerprint, raw=raw, source=source, ref=ref, reason=reason, detail=detail,
                     now=now, max_bytes=max_raw, size=size)
    _note_report(db, report, source, ref, now, outcome="quarantined", events=0, fingerprint=fingerprint,
                 quarantine_id=item, kind=kind)
    log.info("report_quarantined", reason=str(reason), source=source, ref=ref, fingerprint=fingerprint, quarantine_id=item)
    return IngestOutcome(0, 0, reason, fingerprint, kind, item)


def too_large_fingerprint(head: bytes, size: int) -> str:
    """A message too big to parse is known by its first bytes and its full size."""
    hashing = digest.sha256(len(head))
    hashing.update(head)
    return f"large:{size}:" + hashing.hexdigest()


def quarantine_too_large(
    db: Db, head: bytes, size: int, source: str, now: datetime, *,
    ref: str = "", limit: int, max_raw: int = q.MAX_RAW_BYTES,
) -> IngestOutcome:
    """Hold a message bigger than the parser's limit unparsed: `head` is its first bytes (at most `max_raw`), `size`
    its full size (RFC822.SIZE); the item is marked truncated when `head` is shorter. Runs inside a write transaction."""
    return _quarantine(
        db, head, None, source, ref, now, QuarantineReason.TOO_LARGE, {"size": int(size), "limit": int(limit)},
        max_raw=max_raw, size=max(int(size), len(head)), fingerprint=too_large_fingerprint(head, size), kind="too_large",
    )


# ------------------------------------------------------------------ async shell


def hints_from(tracking: TrackingSettings) -> ParseHints:
    """The parse hints for these settings: `maild.reports.clues.hints_for`, the one builder."""
    return hints_for(tracking.return_path, tracking.delimiter)


_WORKERS: WorkerParser | None = None


def default_parser() -> Parser:
    """The parser every source uses: `reports.parse` in a worker killed at its deadline (one pool per process)."""
    global _WORKERS
    if _WORKERS is None:
        _WORKERS = WorkerParser()
        atexit.register(_WORKERS.close)  # end the workers with the process, not after it (they would see EOF anyway)
    return _WORKERS


class Ingestor:
    """Parse (in a thread: CPU work) and record (one writer transaction) one raw report from any source."""

    def __init__(
        self, settings: Settings, store: StoreWrites, keys: KeySet, clock: Callable[[], datetime] = clock.now,
        *, parser: Parser | None = None, resolver: Resolver | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.keys = keys
        self.clock = clock
        self.hints = hints_from(settings.tracking)
        self.parser = parser or default_parser()
        self.resolver = resolver
        from maild.core.stats import IngestStats  # the daemon's counters: `maild ingest` (ingest_now) has none

        self.stats = IngestStats()
        self.writes = WriteGroup()  # reports parsed side by side commit in one transaction (receipts.writegroup)

    @property
    def policy(self) -> UntokenedPolicy:
        return policy_from(self.settings.tracking)

    def _prepare(self, raw: bytes) -> tuple[Report | None, str | ParseTimeout | None, frozenset[str]]:
        """Parse, and authenticate a report without a token (DKIM's DNS lookups included): in a thread."""
        report, error = parse_safely(self.parser, raw, self.hints)
        return report, error, authenticate_if_untokened(raw, report, self.policy, self.resolver)

    async def ingest(self, raw: bytes, source: str, ref: str, *, max_raw: int | None = None) -> IngestOutcome:
        """Returns once the outcome is committed; raises TransientError (or StoreError) when nothing was.

        `max_raw`: most raw bytes a quarantine entry keeps (the source's quarantine_max_bytes; None: the default).
        """
        import asyncio  # the daemon's, loaded already: `maild ingest` (ingest_now) never loads it

        now = self.clock()
        limit = q.MAX_RAW_BYTES if max_raw is None else int(max_raw)
        self.writes.started()
        try:
            report, error, authenticated = await asyncio.to_thread(self._prepare, raw)
        finally:
            self.writes.finished()
        policy = self.policy
        try:
            outcome: IngestOutcome = await self.writes.write(
                self.store,
                lambda db: ingest_report(
                    db, raw, report, self.keys, source, now, ref=ref, parse_error=error, max_raw=limit,
                    authenticated=authenticated, policy=policy,
                ),
            )
        except (TransientError, StoreError):  # nothing committed: the source keeps the message for later
            self.stats.failures += 1
            raise
        except Exception as exc:  # noqa: BLE001 - a bug on one report must not wedge the source: hold it
            log.exception("report_ingest_failed", source=source, ref=ref)
            # Bound now: the name `exc` is unbound once the except block ends, and the lambda runs later.
            detail = {"error": f"{type(exc).__name__}: {exc}"[:300]}
            outcome = await self.store.write(
                lambda db: _quarantine(
                    db, raw, report, source, ref, now, QuarantineReason.INTERNAL_ERROR, detail, max_raw=limit,
                )
            )
        self._count(outcome)
        log.info(
            "report_ingested", source=source, ref=ref, kind=outcome.kind, applied=outcome.applied,
            duplicates=outcome.duplicates, quarantine=str(outcome.quarantine) if outcome.quarantine else None,
        )
        return outcome

    async def quarantine_too_large(
        self, head: bytes, size: int, source: str, ref: str, *, max_raw: int | None = None
    ) -> IngestOutcome:
        """Hold, unparsed, a message bigger than the parser's limit (`self.hints.max_bytes`); `head` is its first bytes.

        Raises TransientError (or StoreError) when nothing was committed, like `ingest`.
        """
        now = self.clock()
        limit = q.MAX_RAW_BYTES if max_raw is None else int(max_raw)
        try:
            outcome: IngestOutcome = await self.store.write(
                lambda db: quarantine_too_large(
                    db, head, size, source, now, ref=ref, limit=self.hints.max_bytes, max_raw=limit
                )
            )
        except (TransientError, StoreError):
            self.stats.failures += 1
            raise
        self._count(outcome)
        log.info("report_ingested", source=source, ref=ref, kind=outcome.kind, applied=0, duplicates=0,
                 quarantine=str(outcome.quarantine), size=size)
        return outcome

    def _count(self, outcome: IngestOutcome) -> None:
        self.stats.reports += 1
        self.stats.applied_events += outcome.applied
        self.stats.duplicate_events += outcome.duplicates
        if outcome.quarantine is not None:
            key = str(outcome.quarantine)
            self.stats.quarantined[key] = self.stats.quarantined.get(key, 0) + 1


def parse_safely(parser: Parser, raw: bytes, hints: ParseHints) -> tuple[Report | None, str | ParseTimeout | None]:
    """The parser's report, or None and why: a parser crash or timeout on hostile input is a quarantine, not an outage."""
    try:
        return parser(raw, hints), None
    except ParseTimeout as exc:
        return None, exc
    except TransientError:  # no parse worker could start: the source keeps the message and tries again
        raise
    except Exception as exc:  # noqa: BLE001 - untrusted input
        return None, f"{type(exc).__name__}: {exc}"


def ingest_now(
    db: Db, raw: bytes, keys: KeySet, hints: ParseHints, source: str, ref: str, now: datetime,
    *, parser: Parser | None = None, quarantine_id: int | None = None,
    policy: UntokenedPolicy = STRICT, resolver: Resolver | None = None,
) -> IngestOutcome:
    """Parse and ingest on a command's own connection (pipe, quarantine retry), in one IMMEDIATE transaction.

    `quarantine_id`: a retry of that quarantine item (`raw` its stored bytes); see `ingest_report`.
    """
    from maild.store import transaction

    report, error = parse_safely(parser or default_parser(), raw, hints)
    authenticated = authenticate_if_untokened(raw, report, policy, resolver)
    return transaction(
        db,
        lambda d: ingest_report(
            d, raw, report, keys, source, now, ref=ref, parse_error=error, quarantine_id=quarantine_id,
            authenticated=authenticated, policy=policy,
        ),
    )


def policy_from(tracking: TrackingSettings) -> UntokenedPolicy:
    return UntokenedPolicy(tuple(tracking.trusted_authserv_ids), tracking.trust_untokened_reports)


def authenticate_if_untokened(
    raw: bytes, report: Report | None, policy: UntokenedPolicy, resolver: Resolver | None
) -> frozenset[str]:
    """The domains vouching for a token-less report; nothing is looked up for a report with a token."""
    if report is None or report.kind is ReportKind.UNKNOWN or policy.allow_unauthenticated:
        return frozenset()
    if report.token or report.token_candidates:
        return frozenset()
    try:
        return authenticated_domains(raw, policy, resolver if resolver is not None else default_resolver())
    except Exception as exc:  # noqa: BLE001 - hostile input or a broken resolver: simply not authenticated
        log.warning("report_authentication_failed", error=f"{type(exc).__name__}: {exc}"[:300])
        return frozenset()
