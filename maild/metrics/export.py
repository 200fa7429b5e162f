"""The Prometheus export: each part's declared stats and one store snapshot turned into series at scrape time.

Nothing here counts on its own. Each scrape reads (a) the stats objects the
daemon's parts keep (maild.core.stats: one declared shape per part, each
field exported by name below) and (b) one snapshot of the store taken through
a read job, on the store's reader threads, so the event loop never touches
SQLite; a failed read costs the store series of that scrape (and sets
maild_store_read_ok 0), a failing stats source its own series, never the scrape.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import sqlite_utils
from aiohttp import web
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from maild import __version__, clock, logs
from maild.core.states import DeliveryState
from maild.core.stats import (
    DeliveryStats,
    IngestStats,
    IntakeStats,
    SourceStats,
    WebhookStats,
)
from maild.metrics.snapshot import StoreSnapshot, read_snapshot, source_label

if TYPE_CHECKING:
    from maild.store.writer import WriterStats

log = logs.get("metrics")

# Commit latency is dominated by fsync: from sub-millisecond (tmpfs, SSD cache) to seconds (a sick disk).
COMMIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
QUARANTINE_STATES = ("held", "released")
# The classic text format generate_latest() writes; every Prometheus and agent reads it (client 0.26 would say 1.0.0).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

T = TypeVar("T")
Read = Callable[[Callable[[sqlite_utils.Database], StoreSnapshot]], Awaitable[StoreSnapshot]]


def _read(source: Callable[[], T | None] | None, what: str) -> T | None:
    """Call a stats source; a failing one costs its series, never the scrape."""
    if source is None:
        return None
    try:
        return source()
    except Exception as exc:  # noqa: BLE001 - one broken part must not blank /metrics
        log.warning("metrics_source_failed", source=what, error=f"{type(exc).__name__}: {exc}")
        return None


def _by_label(name: str, doc: str, label: str, counts: Mapping[str, int]) -> CounterMetricFamily:
    family = CounterMetricFamily(name, doc, labels=[label])
    for key, n in sorted(counts.items()):
        family.add_metric([key], n)
    return family


def intake_series(s: IntakeStats) -> Iterator[Metric]:
    yield CounterMetricFamily("maild_messages_accepted", "Messages spooled by intake (250 sent).", value=s.accepted)
    yield CounterMetricFamily("maild_recipients_accepted", "Recipients of the messages spooled by intake.", value=s.recipients)
    yield _by_label("maild_messages_rejected", "SMTP transactions intake refused, by reason.", "reason", s.rejected)
    yield _by_label(
        "maild_messages_by_preset", "Messages spooled by intake, by the helpdesk preset that matched.", "preset", s.presets
    )


def writer_series(s: WriterStats) -> Iterator[Metric]:
    yield CounterMetricFamily("maild_store_commits", "Transactions committed by the store writer.", value=s.commits)
    yield CounterMetricFamily(
        "maild_store_write_jobs", "Write jobs run by the store writer (several per commit under load).", value=s.jobs
    )


def delivery_series(s: DeliveryStats) -> Iterator[Metric]:
    outcomes = CounterMetricFamily(
        "maild_deliveries", "Delivery attempts of one recipient's copy, by outcome (accepted: the upstream answered 2xx).",
        labels=["outcome"],
    )
    for outcome, n in (("accepted", s.accepted), ("deferred", s.deferred), ("failed", s.failed)):
        outcomes.add_metric([outcome], n)
    yield outcomes
    yield CounterMetricFamily("maild_delivery_attempts", "Copies handed to the upstream.", value=s.attempts)
    yield GaugeMetricFamily("maild_delivery_in_flight", "Copies being sent right now.", value=s.in_flight)


def ingest_series(s: IngestStats) -> Iterator[Metric]:
    yield CounterMetricFamily("maild_ingest_reports", "Receipts handled since start (recorded or quarantined).", value=s.reports)
    events = CounterMetricFamily("maild_ingest_events", "Events from receipts since start, applied or already known.", labels=["result"])
    events.add_metric(["applied"], s.applied_events)
    events.add_metric(["duplicate"], s.duplicate_events)
    yield events
    yield _by_label("maild_ingest_quarantined", "Receipts quarantined since start, by reason.", "reason", s.quarantined)
    yield CounterMetricFamily("maild_ingest_failures", "Receipts left at their source to retry (nothing recorded).", value=s.failures)


def source_series(sources: Mapping[str, SourceStats]) -> Iterator[Metric]:
    connected = GaugeMetricFamily(
        "maild_receipt_source_connected", "1 when a receipts source (IMAP, LMTP...) is connected or listening.", labels=["source"]
    )
    sessions = CounterMetricFamily(
        "maild_receipt_source_sessions", "Times a receipts source became ready (IMAP SELECT, Maildir prepared, LMTP bound).",
        labels=["source"],
    )
    failures = GaugeMetricFamily(
        "maild_receipt_source_failures", "Consecutive failed attempts of a receipts source (0 once one succeeds).", labels=["source"]
    )
    idles = CounterMetricFamily("maild_imap_idles", "IMAP IDLE commands issued (each renewal counts).", labels=["source"])
    exits: dict[str, int] = {}
    for name, s in sorted(sources.items()):
        label = [source_label(name)]
        connected.add_metric(label, 1.0 if s.connected else 0.0)
        sessions.add_metric(label, s.sessions)
        failures.add_metric(label, s.failures)
        idles.add_metric(label, s.idles)
        for reason, n in s.idle_exits.items():
            exits[reason] = exits.get(reason, 0) + n
    yield from (connected, sessions, failures, idles)
    yield _by_label("maild_imap_idle_exits", "Why IMAP IDLE was left: push, renew, keepalive, pending, stop.", "reason", exits)
    yield CounterMetricFamily(
        "maild_imap_fetch_missing", "UIDs an IMAP FETCH left out even when asked again (held back, logged).",
        value=sum(s.fetch_missing for s in sources.values()),
    )
    yield CounterMetricFamily(
        "maild_imap_too_large", "IMAP messages over the parser's limit, fetched in part and quarantined as too_large.",
        value=sum(s.too_large for s in sources.values()),
    )


def webhook_series(s: WebhookStats) -> Iterator[Metric]:
    yield CounterMetricFamily("maild_webhook_posts", "Event POSTs a webhook receiver answered 2xx.", value=s.delivered)
    yield CounterMetricFamily("maild_webhook_failures", "Event POSTs that failed (each is retried).", value=s.failures)


@dataclass(eq=False)  # registries key collectors by identity
class StatsCollector(Collector):
    """The counters of intake, the store writer, delivery, ingest, the receipt sources and the webhooks."""

    intake: Callable[[], IntakeStats | None] | None = None
    writer: Callable[[], WriterStats | None] | None = None
    delivery: Callable[[], DeliveryStats | None] | None = None
    ingest: Callable[[], IngestStats | None] | None = None
    sources: Callable[[], Mapping[str, SourceStats] | None] | None = None  # source name -> its stats
    webhooks: Callable[[], WebhookStats | None] | None = None

    def collect(self) -> Iterator[Metric]:
        for series in (
            self._each(self.intake, "intake", intake_series),
            self._each(self.writer, "writer", writer_series),
            self._each(self.delivery, "delivery", delivery_series),
            self._each(self.ingest, "ingest", ingest_series),
            self._each(self.sources, "sources", source_series),
            self._each(self.webhooks, "webhooks", webhook_series),
        ):
            yield from series
        info = GaugeMetricFamily("maild_build_info", "maild version running.", labels=["version"])
        info.add_metric([__version__], 1)
        yield info

    @staticmethod
    def _each(source: Callable[[], T | None] | None, what: str, series: Callable[[T], Iterator[Metric]]) -> list[Metric]:
        stats = _read(source, what)
        if stats is None:
            return []
        try:
            return list(series(stats))
        except Exception as exc:  # noqa: BLE001 - a stats object of the wrong shape costs its own series
            log.warning("metrics_source_failed", source=what, error=f"{type(exc).__name__}: {exc}")
            return []


@dataclass(eq=False)
class StoreCollector(Collector):
    """Store series from the last snapshot; `refresh()` takes a new one through an async read."""

    read: Read | None = None
    now: Callable[[], datetime] = clock.now
    snapshot: StoreSnapshot | None = None
    ok: bool = False
    read_seconds: float = 0.0

    async def refresh(self) -> None:
        if self.read is None:
            return
        started = time.perf_counter()
        now = self.now()
        try:
            self.snapshot = await self.read(lambda db: read_snapshot(db, now))
            self.ok = True
        except Exception as exc:  # noqa: BLE001 - a locked or broken store must still leave /metrics answering
            self.snapshot, self.ok = None, False
            log.warning("metrics_store_read_failed", error=f"{type(exc).__name__}: {exc}")
        self.read_seconds = time.perf_counter() - started

    def collect(self) -> Iterator[Metric]:
        if self.read is None:
            return
        yield GaugeMetricFamily("maild_store_read_ok", "1 when this scrape could read the store.", value=1.0 if self.ok else 0.0)
        yield GaugeMetricFamily("maild_store_read_seconds", "Time this scrape spent reading the store.", value=self.read_seconds)
        snap = self.snapshot
        if snap is None:
            return
        queue = GaugeMetricFamily("maild_queue_recipients", "Recipients' copies in the spool, by delivery state.", labels=["state"])
        counts = dict(snap.queue)
        for state in [*(str(s) for s in DeliveryState), *sorted(set(counts) - set(DeliveryState))]:
            queue.add_metric([state], counts.get(state, 0))
        yield queue
        yield GaugeMetricFamily(
            "maild_queue_oldest_age_seconds", "Age of the oldest message with a copy not yet accepted or failed (0: none).",
            value=snap.oldest_queued_age,
        )
        reports = CounterMetricFamily(
            "maild_reports", "Distinct receipts (DSN, MDN, bounce...) seen, by kind and outcome.", labels=["kind", "outcome"]
        )
        for kind, outcome, n in snap.reports:
            reports.add_metric([kind, outcome], n)
        yield reports
        rejected = CounterMetricFamily("maild_tokens_rejected", "Receipts whose token failed verification, by reason.", labels=["reason"])
        for reason, n in snap.token_rejections:
            rejected.add_metric([reason], n)
        yield rejected
        quarantine = GaugeMetricFamily("maild_quarantine_messages", "Messages in the quarantine, by state.", labels=["state"])
        held = dict(snap.quarantine)
        for state in [*QUARANTINE_STATES, *sorted(set(held) - set(QUARANTINE_STATES))]:
            quarantine.add_metric([state], held.get(state, 0))
        yield quarantine
        backlog = GaugeMetricFamily("maild_webhook_backlog_events", "Events not yet delivered to a webhook URL.", labels=["url"])
        for url, n in snap.webhook_backlog:
            backlog.add_metric([url], n)
        yield backlog
        outbox = GaugeMetricFamily(
            "maild_writeback_rows", "Write-back outbox rows, by target and status (pending, sending, done, refused, "
            "uncertain, suppressed).", labels=["target", "status"],
        )
        for target, status, n in snap.writeback:
            outbox.add_metric([target, status], n)
        yield outbox


class MaildRegistry(CollectorRegistry):
    """A private registry (never the global one) that refreshes its store snapshot before each render."""

    def __init__(self) -> None:
        super().__init__(auto_describe=False)  # collect() only at scrape time, when the parts exist
        self.store_collector = StoreCollector()
        self.commit_seconds = Histogram(
            "maild_store_commit_seconds", "Duration of one store write transaction, fsync included.",
            buckets=COMMIT_BUCKETS, registry=self,
        )

    async def render(self) -> bytes:
        await self.store_collector.refresh()
        return generate_latest(self)


def build_registry(
    *,
    store: Any = None,
    intake: Callable[[], IntakeStats | None] | None = None,
    writer_stats: WriterStats | None = None,
    delivery: Callable[[], DeliveryStats | None] | None = None,
    ingest: Callable[[], IngestStats | None] | None = None,
    sources: Callable[[], Mapping[str, SourceStats] | None] | None = None,
    webhooks: Callable[[], WebhookStats | None] | None = None,
    now: Callable[[], datetime] = clock.now,
    process: bool = True,
) -> MaildRegistry:
    """The daemon's registry.

    store: a `maild.store.Store` (its `read`) for the store series; writer_stats:
    the `WriterStats` whose observers feed the commit histogram (defaults to
    store.writer.stats); the other arguments are callables returning each
    part's current stats (maild.core.stats), e.g. `intake=lambda: daemon.intake.stats`,
    `delivery=daemon.delivery.stats`, `sources=lambda: {"imap://...": SourceStats(connected=True)}`.
    """
    registry = MaildRegistry()
    if store is not None:
        registry.store_collector.read = store.read
        registry.store_collector.now = now
        if writer_stats is None and getattr(store, "writer", None) is not None:
            writer_stats = store.writer.stats
    registry.register(registry.store_collector)
    if writer_stats is not None:
        writer_stats.observers.append(registry.commit_seconds.observe)
    the_writer = writer_stats
    registry.register(
        StatsCollector(
            intake=intake,
            writer=(lambda: the_writer) if the_writer is not None else None,
            delivery=delivery,
            ingest=ingest,
            sources=sources,
            webhooks=webhooks,
        )
    )
    if process:
        ProcessCollector(registry=registry)
    return registry


def metrics_handler(registry: CollectorRegistry) -> Callable[[web.Request], Awaitable[web.Response]]:
    """aiohttp handler for GET /metrics: Prometheus text format 0.0.4, no authentication."""

    async def handle(_request: web.Request) -> web.Response:
        if isinstance(registry, MaildRegistry):
            body = await registry.render()
        else:
            body = generate_latest(registry)
        response = web.Response(body=body)
        response.headers["Content-Type"] = CONTENT_TYPE
        return response

    return handle
