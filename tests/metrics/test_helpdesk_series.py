"""The helpdesk series: messages by matched preset, and the write-back outbox by target and status."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from maild import metrics
from maild.core.stats import IntakeStats
from maild.store import Store
from tests.metrics.test_metrics import enqueue, scrape

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def test_messages_by_preset() -> None:
    stats = IntakeStats()
    registry = metrics.build_registry(intake=lambda: stats, process=False)
    stats.presets.update({"rt": 2, "generic": 1})
    got = await scrape(registry)
    assert got[("maild_messages_by_preset_total", (("preset", "rt"),))] == 2
    assert got[("maild_messages_by_preset_total", (("preset", "generic"),))] == 1


async def test_writeback_rows_by_target_and_status(tmp_path: Path) -> None:
    store = Store(tmp_path / "maild.db").open()
    try:
        spooled = await enqueue(store, 1, NOW, recipients=2)

        def rows(db) -> None:  # noqa: ANN001
            for n, (rid, status) in enumerate(zip(spooled.recipients, ("done", "refused"), strict=True)):
                db.execute(
                    "INSERT INTO writeback_outbox (target, natural_key, message, recipient, event, state, status,"
                    " attempts, created_at) VALUES ('rt', ?, ?, ?, 1, 'read', ?, 0, '2026-03-01T12:00:00Z')",
                    (f"rt/{rid}/read/{n}", spooled.message, rid, status),
                )

        await store.write(rows)
        got = await scrape(metrics.build_registry(store=store, process=False))
    finally:
        store.close()
    assert got[("maild_writeback_rows", (("status", "done"), ("target", "rt")))] == 1
    assert got[("maild_writeback_rows", (("status", "refused"), ("target", "rt")))] == 1
