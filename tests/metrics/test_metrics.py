"""/metrics: Prometheus text parsed back with prometheus_client's own parser, fed by fake stats and a real store."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from maild import metrics, spool
from maild.errors import StoreBusy
from maild.core.stats import DeliveryStats, IngestStats, IntakeStats, SourceStats, WebhookStats
from maild.core.events import RecipientKind
from maild.core.states import DeliveryState
from maild.store import Store
from maild.tokens import KeySet

KEYS = KeySet({"a": bytes(range(32))}, "a")
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape keyed by (sample name, sorted labels), via the official parser."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def scrape(registry: metrics.MaildRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return samples((await registry.render()).decode())


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = Store(tmp_path / "maild.db").open()
    yield s
    s.close()


def submission(n: int, received_at: datetime, recipients: int = 1) -> spool.Submission:
    return spool.Submission(
        queue_id=f"Q{n:04d}",
        sender="agent@helpdesk.example.com",
        recipients=tuple(spool.SpoolRecipient(f"r{n}-{i}@example.net", RecipientKind.TO) for i in range(recipients)),
        headers=b"Subject: hi\r\n\r\n",
        body=b"body\r\n",
        received_at=received_at,
        ticket=str(n),
    )


async def enqueue(store: Store, n: int, received_at: datetime, recipients: int = 1) -> spool.Spooled:
    return await store.write(lambda db: spool.enqueue(db, submission(n, received_at, recipients), KEYS))


# ------------------------------------------------------------------ in-memory stats


async def test_intake_counters_move_between_scrapes() -> None:
    stats = IntakeStats()
    registry = metrics.build_registry(intake=lambda: stats, process=False)
    before = await scrape(registry)
    stats.accepted += 3
    stats.recipients += 7
    stats.reject("relay_denied")
    stats.reject("relay_denied")
    stats.reject("too_big")
    after = await scrape(registry)
    assert before[("maild_messages_accepted_total", ())] == 0
    assert after[("maild_messages_accepted_total", ())] == 3
    assert after[("maild_recipients_accepted_total", ())] == 7
    assert after[("maild_messages_rejected_total", (("reason", "relay_denied"),))] == 2
    assert after[("maild_messages_rejected_total", (("reason", "too_big"),))] == 1


async def test_delivery_outcomes_from_the_scheduler_dataclass() -> None:
    registry = metrics.build_registry(delivery=lambda: DeliveryStats(2, 10, 4, 1, 15), process=False)
    got = await scrape(registry)
    assert got[("maild_deliveries_total", (("outcome", "accepted"),))] == 10
    assert got[("maild_deliveries_total", (("outcome", "deferred"),))] == 4
    assert got[("maild_deliveries_total", (("outcome", "failed"),))] == 1
    assert got[("maild_delivery_attempts_total", ())] == 15
    assert got[("maild_delivery_in_flight", ())] == 2


async def test_stats_of_another_shape_cost_only_their_own_series() -> None:
    # No reflection: a part that hands over something else than its declared stats loses its series, not the scrape.
    registry = metrics.build_registry(
        intake=lambda: IntakeStats(accepted=1), delivery=lambda: {"accepted": 5, "failed": 2}, process=False  # type: ignore[arg-type]
    )
    got = await scrape(registry)
    assert got[("maild_messages_accepted_total", ())] == 1
    assert not any(name.startswith("maild_deliveries") for name, _ in got)


async def test_ingest_counters_from_the_ingestor_stats() -> None:
    stats = IngestStats(reports=4, applied_events=6, duplicate_events=2, quarantined={"bad_token": 1}, failures=3)
    got = await scrape(metrics.build_registry(ingest=lambda: stats, process=False))
    assert got[("maild_ingest_reports_total", ())] == 4
    assert got[("maild_ingest_events_total", (("result", "applied"),))] == 6
    assert got[("maild_ingest_events_total", (("result", "duplicate"),))] == 2
    assert got[("maild_ingest_quarantined_total", (("reason", "bad_token"),))] == 1
    assert got[("maild_ingest_failures_total", ())] == 3


async def test_receipt_sources_connected_hide_passwords_in_urls() -> None:
    sources = {
        "imaps://receipts:s3cret@127.0.0.1:993/INBOX": SourceStats(connected=False, failures=3, last_error="s3cret said no"),
        "lmtp": SourceStats(connected=True, sessions=1),
    }
    text = (await metrics.build_registry(sources=lambda: sources, process=False).render()).decode()
    got = samples(text)
    imap = (("source", "imaps://127.0.0.1:993/INBOX"),)
    assert got[("maild_receipt_source_connected", imap)] == 0
    assert got[("maild_receipt_source_connected", (("source", "lmtp"),))] == 1
    assert got[("maild_receipt_source_failures", imap)] == 3
    assert got[("maild_receipt_source_sessions_total", (("source", "lmtp"),))] == 1
    assert "s3cret" not in text


async def test_imap_counters_are_summed_over_the_sources() -> None:
    a = SourceStats(connected=True, sessions=2, idles=5, idle_exits={"push": 2, "renew": 1}, fetch_missing=1, too_large=2)
    b = SourceStats(idles=1, idle_exits={"push": 1}, fetch_missing=3)
    got = await scrape(metrics.build_registry(sources=lambda: {"imap://a/INBOX": a, "imap://b/INBOX": b}, process=False))
    assert got[("maild_imap_fetch_missing_total", ())] == 4
    assert got[("maild_imap_too_large_total", ())] == 2
    assert got[("maild_imap_idle_exits_total", (("reason", "push"),))] == 3
    assert got[("maild_imap_idle_exits_total", (("reason", "renew"),))] == 1
    assert got[("maild_imap_idles_total", (("source", "imap://a/INBOX"),))] == 5


async def test_webhook_posts_and_failures_are_exported() -> None:
    got = await scrape(metrics.build_registry(webhooks=lambda: WebhookStats(delivered=7, failures=2), process=False))
    assert got[("maild_webhook_posts_total", ())] == 7
    assert got[("maild_webhook_failures_total", ())] == 2


def _bump(value: object) -> object:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, dict):
        return {"some_reason": 1}
    return value


@pytest.mark.parametrize(
    ("part", "stats"),
    [
        ("intake", IntakeStats()),
        ("delivery", DeliveryStats(0, 0, 0, 0, 0)),
        ("ingest", IngestStats()),
        ("webhooks", WebhookStats()),
        ("sources", SourceStats()),
    ],
)
async def test_every_declared_counter_is_exported(part: str, stats: Any) -> None:
    # Each field of a part's stats moves some series: a counter "for /metrics" that is never exported fails here.
    def registry_for(value: Any) -> metrics.MaildRegistry:
        source = (lambda: {"imap://a/INBOX": value}) if part == "sources" else (lambda: value)
        return metrics.build_registry(process=False, **{part: source})

    base = await scrape(registry_for(stats))
    for f in dataclasses.fields(stats):
        if f.name == "last_error":  # server text: logs and tests only, never a label
            continue
        changed = dataclasses.replace(stats, **{f.name: _bump(getattr(stats, f.name))})
        assert await scrape(registry_for(changed)) != base, f"{part}.{f.name} is not exported"


async def test_a_failing_stats_source_costs_only_its_own_series() -> None:
    def broken() -> Any:
        raise RuntimeError("boom")

    stats = IntakeStats(accepted=1)
    got = await scrape(metrics.build_registry(intake=lambda: stats, delivery=broken, process=False))
    assert got[("maild_messages_accepted_total", ())] == 1
    assert not any(name.startswith("maild_deliveries") for name, _ in got)


async def test_label_values_with_quotes_and_newlines_are_escaped() -> None:
    stats = IntakeStats()
    stats.reject('odd "reason"\nwith a newline \\ and backslash')
    got = await scrape(metrics.build_registry(intake=lambda: stats, process=False))
    assert got[("maild_messages_rejected_total", (("reason", 'odd "reason"\nwith a newline \\ and backslash'),))] == 1


async def test_registry_is_private_so_two_daemons_do_not_collide() -> None:
    a = metrics.build_registry(intake=lambda: IntakeStats(accepted=1), process=False)
    b = metrics.build_registry(intake=lambda: IntakeStats(accepted=2), process=False)
    assert (await scrape(a))[("maild_messages_accepted_total", ())] == 1
    assert (await scrape(b))[("maild_messages_accepted_total", ())] == 2


# ------------------------------------------------------------------ the store


async def test_queue_size_by_state_and_oldest_age_from_a_real_store(store: Store) -> None:
    await enqueue(store, 1, NOW - timedelta(minutes=30), recipients=2)
    done = await enqueue(store, 2, NOW - timedelta(hours=5))
    await enqueue(store, 3, NOW - timedelta(minutes=1))
    await store.write(
        lambda db: db.execute("UPDATE recipients SET delivery_state = 'accepted' WHERE id = ?", (done.recipients[0],))
    )
    got = await scrape(metrics.build_registry(store=store, now=lambda: NOW, process=False))
    assert got[("maild_queue_recipients", (("state", "queued"),))] == 3
    assert got[("maild_queue_recipients", (("state", "accepted"),))] == 1
    assert got[("maild_queue_recipients", (("state", "failed"),))] == 0
    assert got[("maild_queue_oldest_age_seconds", ())] == 30 * 60  # the 5 h old one is final
    assert got[("maild_store_read_ok", ())] == 1


async def test_empty_queue_has_every_state_at_zero_and_age_zero(store: Store) -> None:
    got = await scrape(metrics.build_registry(store=store, now=lambda: NOW, process=False))
    for state in DeliveryState:
        assert got[("maild_queue_recipients", (("state", str(state)),))] == 0
    assert got[("maild_queue_oldest_age_seconds", ())] == 0


async def test_deferred_recipients_keep_the_oldest_age(store: Store) -> None:
    s = await enqueue(store, 1, NOW - timedelta(days=2))
    await store.write(lambda db: db.execute("UPDATE recipients SET delivery_state = 'deferred' WHERE id = ?", (s.recipients[0],)))
    got = await scrape(metrics.build_registry(store=store, now=lambda: NOW, process=False))
    assert got[("maild_queue_recipients", (("state", "deferred"),))] == 1
    assert got[("maild_queue_oldest_age_seconds", ())] == 2 * 86400


def _ingest_rows(db: sqlite_utils.Database) -> None:
    at = "2026-03-01T11:00:00.000Z"
    for i, (kind, outcome) in enumerate([("dsn", "applied"), ("dsn", "applied"), ("mdn", "applied"), ("unknown", "quarantined")]):
        db["reports"].insert({"fingerprint": f"f{i}", "kind": kind, "received_at": at, "last_seen_at": at, "source": "imap", "outcome": outcome})
    for i, state in enumerate(["held", "held", "released"]):
        db["quarantine"].insert({"fingerprint": f"q{i}", "source": "imap", "reason": "unparseable", "received_at": at, "state": state})
    db["token_rejections"].insert({"reason": "bad_signature", "count": 5, "last_at": at})
    db["token_rejections"].insert({"reason": "unknown_key", "count": 1, "last_at": at})


async def test_reports_tokens_and_quarantine_come_from_the_store(store: Store) -> None:
    await store.write(_ingest_rows)
    got = await scrape(metrics.build_registry(store=store, now=lambda: NOW, process=False))
    assert got[("maild_reports_total", (("kind", "dsn"), ("outcome", "applied")))] == 2
    assert got[("maild_reports_total", (("kind", "mdn"), ("outcome", "applied")))] == 1
    assert got[("maild_reports_total", (("kind", "unknown"), ("outcome", "quarantined")))] == 1
    assert got[("maild_tokens_rejected_total", (("reason", "bad_signature"),))] == 5
    assert got[("maild_tokens_rejected_total", (("reason", "unknown_key"),))] == 1
    assert got[("maild_quarantine_messages", (("state", "held"),))] == 2
    assert got[("maild_quarantine_messages", (("state", "released"),))] == 1


async def test_webhook_backlog_counts_events_after_each_cursor(store: Store) -> None:
    await enqueue(store, 1, NOW, recipients=3)  # three `queued` events
    first = await store.read(lambda db: db.execute("SELECT min(id) FROM events").fetchone()[0])

    def cursors(db: sqlite_utils.Database) -> None:
        at = "2026-03-01T11:00:00.000Z"
        db.execute("INSERT INTO webhook_cursors (url, last_event, updated_at) VALUES (?, ?, ?)", ("https://hook.example/a?key=SECRET", first, at))
        db.execute("INSERT INTO webhook_cursors (url, last_event, updated_at) VALUES (?, ?, ?)", ("https://u:pw@hook.example/b", first + 2, at))

    await store.write(cursors)
    text = (await metrics.build_registry(store=store, now=lambda: NOW, process=False).render()).decode()
    got = samples(text)
    assert got[("maild_webhook_backlog_events", (("url", "https://hook.example/a"),))] == 2
    assert got[("maild_webhook_backlog_events", (("url", "https://hook.example/b"),))] == 0
    assert "SECRET" not in text and "pw@" not in text


async def test_store_commit_latency_histogram_counts_every_commit(store: Store) -> None:
    registry = metrics.build_registry(store=store, now=lambda: NOW, process=False)
    before = (await scrape(registry))[("maild_store_commit_seconds_count", ())]
    for n in range(3):
        await enqueue(store, n, NOW)
    got = await scrape(registry)
    assert got[("maild_store_commit_seconds_count", ())] - before >= 1  # group commit may merge the three
    assert got[("maild_store_commit_seconds_count", ())] - before == got[("maild_store_commits_total", ())] - before
    assert got[("maild_store_commit_seconds_sum", ())] > 0
    assert got[("maild_store_commit_seconds_bucket", (("le", "+Inf"),))] == got[("maild_store_commit_seconds_count", ())]


async def test_a_store_that_cannot_be_read_leaves_the_scrape_answering() -> None:
    class Locked:
        async def read(self, job: Any) -> Any:
            raise StoreBusy("database is locked")

    stats = IntakeStats(accepted=9)
    got = await scrape(metrics.build_registry(store=Locked(), intake=lambda: stats, process=False))
    assert got[("maild_store_read_ok", ())] == 0
    assert got[("maild_messages_accepted_total", ())] == 9
    assert not any(name.startswith("maild_queue") for name, _ in got)


async def test_store_recovers_on_the_next_scrape(store: Store) -> None:
    real_read = store.read
    calls = {"n": 0}

    async def flaky(job: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise StoreBusy("database is locked")
        return await real_read(job)

    registry = metrics.build_registry(store=store, now=lambda: NOW, process=False)
    registry.store_collector.read = flaky
    assert (await scrape(registry))[("maild_store_read_ok", ())] == 0
    assert (await scrape(registry))[("maild_store_read_ok", ())] == 1


# ------------------------------------------------------------------ HTTP


def _app(registry: metrics.MaildRegistry, probe: Any) -> web.Application:
    app = web.Application()
    app.router.add_get("/metrics", metrics.metrics_handler(registry))
    app.router.add_get("/healthz", metrics.healthz_handler(probe))
    return app


async def test_metrics_endpoint_serves_prometheus_text_over_http(store: Store) -> None:
    registry = metrics.build_registry(store=store, intake=lambda: IntakeStats(accepted=2), now=lambda: NOW)
    probe = lambda: metrics.HealthProbe(store_open=True, listeners={"smtp 127.0.0.1:10025": True})  # noqa: E731
    async with TestClient(TestServer(_app(registry, probe), host="127.0.0.1", port=0)) as client:
        response = await client.get("/metrics")
        body = await response.text()
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    got = samples(body)
    assert got[("maild_messages_accepted_total", ())] == 2
    assert ("process_cpu_seconds_total", ()) in got  # the process collector is on by default


async def test_healthz_endpoint_answers_503_with_the_reason() -> None:
    registry = metrics.build_registry(process=False)
    probe = lambda: metrics.HealthProbe(store_open=False, listeners={"smtp 127.0.0.1:10025": True})  # noqa: E731
    async with TestClient(TestServer(_app(registry, probe), host="127.0.0.1", port=0)) as client:
        response = await client.get("/healthz")
        body = json.loads(await response.text())
    assert response.status == 503
    assert body == {"status": "unavailable", "ready": False, "problems": ["store not open"]}


async def test_healthz_endpoint_survives_a_probe_that_raises() -> None:
    def probe() -> metrics.HealthProbe:
        raise AttributeError("intake not built yet")

    async with TestClient(TestServer(_app(metrics.build_registry(process=False), probe), host="127.0.0.1", port=0)) as client:
        response = await client.get("/healthz")
        body = json.loads(await response.text())
    assert response.status == 503
    assert body["problems"] == ["probe failed: AttributeError"]
