"""Benchmark: what parsing in a worker process (issue 14's hard CPU-time limit) costs per report against in-process.

The same reports (alternating MDN and failure DSN, as bench/ingest.py sends) are parsed in turn by
`maild.reports.parse` in this process and by `maild.receipts.parsework.WorkerParser` (one worker, a new
interpreter as in the daemon, since a second thread runs here), rounds interleaved. For the worker it prints
the CPU time of this process and of the worker per report, and the round trip alone: the same worker running
a target that answers one prepared report without parsing. CPU time, not throughput: steadier on a shared machine.

Usage: python bench/parse_worker.py [--reports 300] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from maild.receipts.parsework import WorkerParser, cpu_seconds  # noqa: E402
from maild.reports import ParseHints, Report, parse  # noqa: E402
from tests.receipts import mail  # noqa: E402

_PREPARED: list[Report] = []


def answer_only(raw: bytes, hints: ParseHints) -> Report:
    """The worker's round trip without the parse: the first report parsed, answered again every time."""
    if not _PREPARED:
        _PREPARED.append(parse(raw, hints))
    return _PREPARED[0]


def reports(n: int) -> list[bytes]:
    return [
        mail.mdn(f"tok{i:04d}", f"u{i}@example.net") if i % 2 == 0 else mail.dsn(f"tok{i:04d}", f"u{i}@example.net")
        for i in range(n)
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reports", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    raws, hints = reports(args.reports), ParseHints()
    idle = threading.Event()
    other = threading.Thread(target=idle.wait)  # a process with threads, as the daemon: the worker is spawned
    other.start()
    # The worker imports its target by module name, which __main__ is not there: this file's own name is.
    from parse_worker import answer_only as importable  # type: ignore[import-not-found]

    pools = {"worker": WorkerParser(workers=1), "round trip only": WorkerParser(workers=1, target=importable)}
    figures: dict[str, list[float]] = {}
    try:
        for pool in pools.values():
            for raw in raws[:30]:  # warm: the worker started and its imports done
                pool(raw, hints)
        for raw in raws[:30]:
            parse(raw, hints)
        for _ in range(args.rounds):
            started = time.process_time()
            for raw in raws:
                parse(raw, hints)
            figures.setdefault("in-process parse", []).append(time.process_time() - started)
            for name, pool in pools.items():
                pid = pool._idle[0].pid
                assert pid is not None
                worker_before, started = cpu_seconds(pid), time.process_time()
                for raw in raws:
                    pool(raw, hints)
                figures.setdefault(f"{name}: this process", []).append(time.process_time() - started)
                worker_after = cpu_seconds(pid)
                if worker_before is not None and worker_after is not None:
                    figures.setdefault(f"{name}: the worker", []).append(worker_after - worker_before)
    finally:
        for pool in pools.values():
            pool.close()
        idle.set()
        other.join()
    print(f"{args.reports} reports, {args.rounds} rounds; CPU microseconds per report, median of rounds")
    for name, values in figures.items():
        print(f"  {name:<32} {statistics.median(values) / args.reports * 1e6:8.0f}")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
