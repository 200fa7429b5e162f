"""Observability: Prometheus metrics read at scrape time from maild's counters and store, and /healthz readiness.

Nothing here counts on its own. Each scrape reads (a) the in-memory stats
objects the daemon's parts already keep (intake, store writer, delivery,
ingest, receipt sources) and (b) one snapshot of the store taken through a
read job (queue by state, oldest queued message, reports by kind, rejected
tokens, quarantine, webhook backlog). The store is read before rendering, on
the store's reader threads, so the event loop never touches SQLite; a failed
read costs the store series of that scrape (and sets maild_store_read_ok 0),
never the scrape itself.

The daemon builds one registry with `build_registry(...)` and routes
`/metrics` to `metrics_handler(registry)` and `/healthz` to
`healthz_handler(probe)`, where `health()` is the pure decision.
"""

from __future__ import annotations

import dataclasses
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlite_utils
from aiohttp import web
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from maild import __version__, clock, logs
from maild.core.states import DeliveryState

log = logs.get("metrics")

# Commit latency is dominated by fsync: from sub-millisecond (tmpfs, SSD cache) to seconds (a sick disk).
COMMIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
QUARANTINE_STATES = ("held", "released")
DELIVERY_OUTCOMES = ("accepted", "deferred", "failed")
# The classic text format generate_latest() writes; every Prometheus and agent reads it (client 0.26 would say 1.0.0).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

StatsSource = Callable[[], Any]  # returns a dataclass, a mapping or an object with the documented fields


# ------------------------------------------------------------------ the store snapshot (a read job)


@dataclass(frozen=True, slots=True)
class StoreSnapshot:
    """What the store says at one instant; every tuple is (label value(s), number)."""

    queue: tuple[tuple[str, int], ...] = ()  # recipients by delivery_state
    oldest_queued_age: float = 0.0  # seconds since the oldest message with a non-final recipient arrived
    reports: tuple[tuple[str, str, int], ...] = ()  # (kind, outcome, count) of distinct reports seen
    token_rejections: tuple[tuple[str, int], ...] = ()
    quarantine: tuple[tuple[str, int], ...] = ()  # quarantined messages by state
    webhook_backlog: tuple[tuple[str, int], ...] = ()  # (url without credentials or query, events not yet sent)


def _tables(db: sqlite_utils.Database) -> set[str]:
    return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def read_snapshot(db: sqlite_utils.Database, now: datetime) -> StoreSnapshot:
    """The read job behind the store series: a few indexed aggregate queries, tolerant of older schemas."""
    tables = _tables(db)
    queue = tuple(
        (str(state), int(n))
        for state, n in db.execute("SELECT delivery_state, count(*) FROM recipients GROUP BY delivery_state")
    )
    pending = [str(s) for s in DeliveryState if not s.final]
    oldest = db.execute(
        f"""SELECT min(m.received_at) FROM recipients r JOIN messages m ON m.id = r.message
            WHERE r.delivery_state IN ({', '.join('?' * len(pending))})""",
        pending,
    ).fetchone()[0]
    age = max(0.0, (now - clock.parse_iso(oldest)).total_seconds()) if oldest else 0.0
    reports: tuple[tuple[str, str, int], ...] = ()
    if "reports" in tables:
        reports = tuple(
            (str(kind), str(outcome), int(n))
            for kind, outcome, n in db.execute("SELECT kind, outcome, count(*) FROM reports GROUP BY kind, outcome")
        )
    rejections: tuple[tuple[str, int], ...] = ()
    if "token_rejections" in tables:
        rejections = tuple((str(r), int(n)) for r, n in db.execute("SELECT reason, count FROM token_rejections"))
    quarantine: tuple[tuple[str, int], ...] = ()
    if "quarantine" in tables:
        quarantine = tuple(
            (str(s), int(n)) for s, n in db.execute("SELECT state, count(*) FROM quarantine GROUP BY state")
        )
    backlog: tuple[tuple[str, int], ...] = ()
    if "webhook_cursors" in tables:
        backlog = tuple(
            (safe_url(url), int(n))
            for url, n in db.execute(
                """SELECT c.url, (SELECT count(*) FROM events e WHERE e.id > c.last_event)
                   FROM webhook_cursors c ORDER BY c.url"""
            )
        )
    return StoreSnapshot(queue, age, reports, rejections, quarantine, backlog)


def safe_url(url: str) -> str:
    """A URL fit for a label: scheme, host and path only (user info and query may hold secrets)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


# ------------------------------------------------------------------ collectors


def fields_of(stats: Any) -> dict[str, Any]:
    """Read a stats object of any shape the other parts use: dataclass, mapping or plain attributes."""
    if stats is None:
        return {}
    if dataclasses.is_dataclass(stats) and not isinstance(stats, type):
        return {f.name: getattr(stats, f.name) for f in dataclasses.fields(stats)}
    if isinstance(stats, Mapping):
        return dict(stats)
    return {k: v for k, v in vars(stats).items() if not k.startswith("_")}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _counts(value: Any) -> Iterable[tuple[str, float]]:
    if isinstance(value, Mapping):
        for k, v in sorted(value.items(), key=lambda kv: str(kv[0])):
            n = _number(v)
            if n is not None:
                yield str(k), n


def _read(source: StatsSource | None, what: str) -> dict[str, Any]:
    """Call a stats source; a failing one costs its series, never the scrape."""
    if source is None:
        return {}
    try:
        return fields_of(source())
    except Exception as exc:  # noqa: BLE001 - one broken part must not blank /metrics
        log.warning("metrics_source_failed", source=what, error=f"{type(exc).__name__}: {exc}")
        return {}


@dataclass(eq=False)  # registries key collectors by identity
class StatsCollector(Collector):
    """The in-memory counters of intake, the store writer, delivery, ingest and the receipt sources."""

    intake: StatsSource | None = None  # IntakeStats: accepted, recipients, rejected {reason: n}
    writer: StatsSource | None = None  # WriterStats: commits, jobs
    delivery: StatsSource | None = None  # DeliveryStats: delivered|accepted, deferred, failed, attempts, in_flight
    ingest: StatsSource | None = None  # IngestStats: applied_events, duplicate_events, quarantined {reason: n}, failures
    sources: StatsSource | None = None  # {source name: connected (bool)}

    def collect(self) -> Iterator[Metric]:
        yield from self._intake(_read(self.intake, "intake"))
        yield from self._writer(_read(self.writer, "writer"))
        yield from self._delivery(_read(self.delivery, "delivery"))
        yield from self._ingest(_read(self.ingest, "ingest"))
        yield from self._sources(_read(self.sources, "sources"))
        info = GaugeMetricFamily("maild_build_info", "maild version running.", labels=["version"])
        info.add_metric([__version__], 1)
        yield info

    def _intake(self, s: dict[str, Any]) -> Iterator[Metric]:
        if not s:
            return
        yield CounterMetricFamily("maild_messages_accepted", "Messages spooled by intake (250 sent).", value=_number(s.get("accepted")) or 0)
        yield CounterMetricFamily(
            "maild_recipients_accepted", "Recipients of the messages spooled by intake.", value=_number(s.get("recipients")) or 0
        )
        rejected = CounterMetricFamily("maild_messages_rejected", "SMTP transactions intake refused, by reason.", labels=["reason"])
        for reason, n in _counts(s.get("rejected")):
            rejected.add_metric([reason], n)
        yield rejected

    def _writer(self, s: dict[str, Any]) -> Iterator[Metric]:
        if not s:
            return
        yield CounterMetricFamily("maild_store_commits", "Transactions committed by the store writer.", value=_number(s.get("commits")) or 0)
        yield CounterMetricFamily(
            "maild_store_write_jobs", "Write jobs run by the store writer (several per commit under load).",
            value=_number(s.get("jobs")) or 0,
        )

    def _delivery(self, s: dict[str, Any]) -> Iterator[Metric]:
        if not s:
            return
        outcomes = CounterMetricFamily(
            "maild_deliveries", "Delivery attempts of one recipient's copy, by outcome (accepted: the upstream answered 2xx).",
            labels=["outcome"],
        )
        values = {"accepted": s.get("accepted", s.get("delivered")), "deferred": s.get("deferred"), "failed": s.get("failed")}
        for outcome in DELIVERY_OUTCOMES:
            n = _number(values[outcome])
            if n is not None:
                outcomes.add_metric([outcome], n)
        yield outcomes
        if (n := _number(s.get("attempts"))) is not None:
            yield CounterMetricFamily("maild_delivery_attempts", "Copies handed to the upstream.", value=n)
        if (n := _number(s.get("in_flight"))) is not None:
            yield GaugeMetricFamily("maild_delivery_in_flight", "Copies being sent right now.", value=n)

    def _ingest(self, s: dict[str, Any]) -> Iterator[Metric]:
        if not s:
            return
        events = CounterMetricFamily("maild_ingest_events", "Events from receipts since start, applied or already known.", labels=["result"])
        for result, key in (("applied", "applied_events"), ("duplicate", "duplicate_events")):
            if (n := _number(s.get(key))) is not None:
                events.add_metric([result], n)
        yield events
        quarantined = CounterMetricFamily("maild_ingest_quarantined", "Receipts quarantined since start, by reason.", labels=["reason"])
        for reason, n in _counts(s.get("quarantined")):
            quarantined.add_metric([reason], n)
        yield quarantined
        if (n := _number(s.get("failures"))) is not None:
            yield CounterMetricFamily("maild_ingest_failures", "Receipts left at their source to retry (nothing recorded).", value=n)
        if (n := _number(s.get("imap_fetch_missing"))) is not None:
            yield CounterMetricFamily(
                "maild_imap_fetch_missing", "UIDs an IMAP FETCH left out even when asked again (held back, logged).", value=n
            )

    def _sources(self, s: dict[str, Any]) -> Iterator[Metric]:
        if not s:
            return
        connected = GaugeMetricFamily(
            "maild_receipt_source_connected", "1 when a receipts source (IMAP, LMTP...) is connected or listening.", labels=["source"]
        )
        for name, up in sorted(s.items()):
            connected.add_metric([safe_url(str(name)) if "://" in str(name) else str(name)], 1.0 if up else 0.0)
        yield connected


@dataclass(eq=False)
class StoreCollector(Collector):
    """Store series from the last snapshot; `refresh()` takes a new one through an async read."""

    read: Callable[[Callable[[sqlite_utils.Database], StoreSnapshot]], Awaitable[StoreSnapshot]] | None = None
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
    intake: StatsSource | None = None,
    writer_stats: Any = None,
    delivery: StatsSource | None = None,
    ingest: StatsSource | None = None,
    sources: StatsSource | None = None,
    now: Callable[[], datetime] = clock.now,
    process: bool = True,
) -> MaildRegistry:
    """The daemon's registry.

    store: a `maild.store.Store` (its `read`) for the store series; writer_stats:
    the `WriterStats` whose observers feed the commit histogram (defaults to
    store.writer.stats); the other arguments are callables returning the
    current stats objects, e.g. `intake=lambda: daemon.intake.stats`,
    `delivery=daemon.delivery.stats`, `sources=lambda: {"imap://...": True}`.
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
    registry.register(
        StatsCollector(
            intake=intake,
            writer=(lambda: writer_stats) if writer_stats is not None else None,
            delivery=delivery,
            ingest=ingest,
            sources=sources,
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


# ------------------------------------------------------------------ readiness


class HealthStatus(StrEnum):
    OK = "ok"  # everything up
    DEGRADED = "degraded"  # accepting mail, but a receipts source is down: receipts wait at their source
    UNAVAILABLE = "unavailable"  # cannot accept mail safely: store closed or a listener not bound


@dataclass(frozen=True, slots=True)
class HealthProbe:
    """What the daemon knows about its parts at one instant."""

    store_open: bool
    listeners: Mapping[str, bool] = field(default_factory=dict)  # "smtp 127.0.0.1:10025" -> bound
    sources: Mapping[str, bool] = field(default_factory=dict)  # receipts source -> connected
    stopping: bool = False


@dataclass(frozen=True, slots=True)
class Health:
    status: HealthStatus
    problems: tuple[str, ...]

    @property
    def ready(self) -> bool:
        return self.status is not HealthStatus.UNAVAILABLE

    @property
    def http_status(self) -> int:
        return 200 if self.ready else 503

    def as_json(self) -> dict[str, Any]:
        return {"status": str(self.status), "ready": self.ready, "problems": list(self.problems)}


def health(probe: HealthProbe) -> Health:
    """Ready when maild can accept mail (store open, every listener bound, not stopping); a source down only degrades."""
    fatal: list[str] = []
    if probe.stopping:
        fatal.append("stopping")
    if not probe.store_open:
        fatal.append("store not open")
    if not probe.listeners:
        fatal.append("no listener bound")
    fatal += [f"listener not bound: {name}" for name, up in sorted(probe.listeners.items()) if not up]
    down = [f"source not connected: {safe_url(n) if '://' in n else n}" for n, up in sorted(probe.sources.items()) if not up]
    if fatal:
        return Health(HealthStatus.UNAVAILABLE, tuple(fatal + down))
    if down:
        return Health(HealthStatus.DEGRADED, tuple(down))
    return Health(HealthStatus.OK, ())


def healthz_handler(probe: Callable[[], HealthProbe]) -> Callable[[web.Request], Awaitable[web.Response]]:
    """aiohttp handler for GET /healthz: 200 when ready (ok or degraded), 503 otherwise, with the reasons as JSON."""

    async def handle(_request: web.Request) -> web.Response:
        try:
            result = health(probe())
        except Exception as exc:  # noqa: BLE001 - a broken probe is an answer too
            result = Health(HealthStatus.UNAVAILABLE, (f"probe failed: {type(exc).__name__}",))
        return web.json_response(result.as_json(), status=result.http_status)

    return handle
