"""Benchmark of /metrics: scrape time against a store of N messages, and the commit-histogram observer's cost.

Run: /work/venv-dev/bin/python -m tests.metrics.bench_metrics [N_MESSAGES] [ROUNDS]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from maild import logs, metrics, spool
from maild.core.stats import IntakeStats
from maild.core.events import RecipientKind
from maild.store import Store
from maild.tokens import KeySet

KEYS = KeySet({"a": bytes(range(32))}, "a")
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def main(n: int, rounds: int) -> None:
    logs.configure("warning", "json")
    with tempfile.TemporaryDirectory() as d:
        store = Store(Path(d) / "bench.db").open()
        try:
            t = time.perf_counter()
            for start in range(0, n, 5000):
                await store.write(lambda db, s=start, k=min(5000, n - start): _fill_from(db, s, k))
            print(f"filled {n} messages / {2 * n} recipients in {time.perf_counter() - t:.1f}s")
            registry = metrics.build_registry(store=store, intake=lambda: IntakeStats(accepted=1))
            await registry.render()  # warm the reader connection
            scrapes = []
            for _ in range(rounds):
                t = time.perf_counter()
                body = await registry.render()
                scrapes.append(time.perf_counter() - t)
            print(f"scrape: median {statistics.median(scrapes) * 1000:.1f} ms over {rounds} (min {min(scrapes) * 1000:.1f}, "
                  f"max {max(scrapes) * 1000:.1f}), {len(body)} bytes, store read {registry.store_collector.read_seconds * 1000:.1f} ms")

            # commit latency with and without the histogram observer, alternating rounds side by side
            observe = registry.commit_seconds.observe
            with_obs, without = [], []
            for r in range(rounds):
                for observed in ((True, False) if r % 2 == 0 else (False, True)):
                    store.writer.stats.observers[:] = [observe] if observed else []
                    t = time.perf_counter()
                    for _ in range(200):
                        await store.write(lambda db: db.execute("UPDATE messages SET held = 0 WHERE id = 1"))
                    (with_obs if observed else without).append((time.perf_counter() - t) / 200)
            a, b = statistics.median(with_obs), statistics.median(without)
            print(f"write+commit: with observer median {a * 1e6:.0f} us, without {b * 1e6:.0f} us, ratio {a / b:.3f} ({rounds} rounds x 200)")
        finally:
            store.close()


def _fill_from(db, start: int, k: int) -> None:  # noqa: ANN001
    for i in range(start, start + k):
        sub = spool.Submission(
            queue_id=f"B{i:08d}", sender="agent@helpdesk.example.com",
            recipients=(spool.SpoolRecipient(f"a{i}@example.net", RecipientKind.TO), spool.SpoolRecipient(f"b{i}@example.net", RecipientKind.CC)),
            headers=b"Subject: x\r\n\r\n", body=b"", received_at=NOW - timedelta(seconds=100000 - i), ticket=str(i),
        )
        spool.enqueue(db, sub, KEYS)
    db.execute("UPDATE recipients SET delivery_state = 'accepted' WHERE id % 3 = 0")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000, int(sys.argv[2]) if len(sys.argv) > 2 else 9))
