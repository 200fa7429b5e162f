"""Interleaved side by side of the read side: this checkout and another one answer the same calls in turn, call by call.

    .venv/bin/python bench/query_ab.py --against /work/wt-old                     # scale 0.01, stores kept
    .venv/bin/python bench/query_ab.py --against /work/wt-old --runs 2000 --pages 200
    .venv/bin/python bench/query_ab.py --this /work/wt-old --against /work/wt-old     # A/A: the noise

bench/query.py --against runs each checkout's whole benchmark in turn, so a busy minute lands on one side
only. Here each checkout runs in its own worker process, on its own store built with its own schema (by
bench/query.py --keep, once, under --dir), and the two workers take the same call alternately (the first
of each pair alternates too): `maild status`'s read and encoding of a ticket, the reply_status view of
it, an events page of 1,000, and the same page as `maild events --json` encodes it. Each worker measures
its own wall and CPU time (time.process_time) per call and counts the garbage collector's runs during
calls. Printed: p50 and p99 of both, this/other ratios, the load average, and the slowest 1% of calls
(wall against CPU: a slow call whose CPU is ordinary was waiting for a core).
"""

from __future__ import annotations

import argparse
import gc
import inspect
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
OPS = ("status", "view", "page", "json")


def status_api(db_path: str) -> tuple[Any, Any, Any, dict[str, Any]]:
    """MAILD_REPO's queries module, its store opened read-only on db_path, its status encoder and the extra arguments
    its load_thread takes: the same calls in a checkout from before issue 9 and in one after it."""
    sys.path.insert(0, os.environ["MAILD_REPO"])
    from maild import queries
    from maild.store.db import connect

    try:
        from maild.core.jsonvalue import to_json as encode
    except ImportError:  # a checkout from before issue 9
        from maild.status import thread_json as encode  # type: ignore[no-redef]
    old_api = ({"receipts_default": True}
               if "receipts_default" in inspect.signature(queries.load_thread).parameters else {})
    return queries, connect(Path(db_path), readonly=True), encode, old_api


def worker(db_path: str) -> int:
    """Answer 'OP ARG' lines with 'wall_ms cpu_ms gc_runs', running MAILD_REPO's code on db_path."""
    queries, db, encode, old_api = status_api(db_path)
    runs = [0]
    gc.callbacks.append(lambda phase, _info: runs.__setitem__(0, runs[0] + (phase == "start")))

    def status(ticket: str) -> None:
        db.conn.execute("BEGIN")
        try:
            encode(queries.load_thread(db, ticket, **old_api))
        finally:
            db.conn.execute("ROLLBACK")

    def as_json(after: str) -> None:
        for e in queries.list_events(db, after=int(after), limit=1000, **old_api).events:
            json.dumps(e.to_json() if hasattr(e, "to_json") else encode(e))

    ops: dict[str, Any] = {
        "status": status,
        "view": lambda t: db.execute("SELECT * FROM reply_status WHERE ticket = ?", (t,)).fetchall(),
        "page": lambda a: queries.list_events(db, after=int(a), limit=1000, **old_api),
        "json": as_json,
    }
    for line in sys.stdin:
        op, arg = line.split()
        before, t, c = runs[0], time.perf_counter(), time.process_time()
        ops[op](arg)
        print(f"{(time.perf_counter() - t) * 1000:.4f} {(time.process_time() - c) * 1000:.4f} {runs[0] - before}",
              flush=True)
    return 0


def commit(repo: Path) -> str:
    """The checkout's commit (its schema), to name its kept store; the directory's name without git."""
    out = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return out.stdout.strip() or repo.name


def store(repo: Path, where: Path, scale: float) -> Path:
    """The store bench/query.py builds for `repo`'s schema, built once under `where` and kept."""
    where.mkdir(parents=True, exist_ok=True)
    found = sorted(where.glob("maild-bench-*/maild.db"))
    if not found:
        subprocess.run([sys.executable, str(HERE.parent / "query.py"), "--scale", str(scale), "--runs", "1",
                        "--pages", "1", "--keep", "--dir", str(where)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env={**os.environ, "MAILD_REPO": str(repo)})
        found = sorted(where.glob("maild-bench-*/maild.db"))
    return found[0]


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--against", required=True, metavar="CHECKOUT", help="the other checkout (e.g. 5d7d2c1's)")
    ap.add_argument("--this", default=str(HERE.parents[1]), metavar="CHECKOUT",
                    help="the checkout on this side (default: this one); `--this X --against X` is an A/A run, whose "
                         "ratios are the noise that a real difference has to stand out of")
    ap.add_argument("--scale", type=float, default=0.01, help="as bench/query.py's (0.01: 10,000 replies)")
    ap.add_argument("--runs", type=int, default=1000, help="calls of status and of the view, each side")
    ap.add_argument("--pages", type=int, default=100, help="events pages, and JSON pages, each side")
    ap.add_argument("--dir", default="/work/bench-cache/query-ab", help="where the two stores are built and kept")
    ap.add_argument("--ops", default=",".join(OPS), help=f"which calls to time, comma-separated (default: {','.join(OPS)})")
    ap.add_argument("--worker", metavar="DB", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args.worker)
    sides = {"this": Path(args.this).resolve(), "other": Path(args.against).resolve()}
    procs = {}
    for name, repo in sides.items():
        db = store(repo, Path(args.dir) / f"{commit(repo)}-{args.scale}", args.scale)
        procs[name] = subprocess.Popen([sys.executable, str(HERE), "--against", ".", "--worker", str(db)],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                       env={**os.environ, "MAILD_REPO": str(repo)})
    tickets = max(2, int(1_000_000 * args.scale) // 4)
    rng = random.Random(5)
    load = [os.getloadavg()[0]]
    print(f"bench/query_ab.py --scale {args.scale} --runs {args.runs} --pages {args.pages}; this = {sides['this']},"
          f" other = {sides['other']}")
    print("| call | wall p50 other / this | wall p99 other / this | CPU p50 other / this (this/other) |"
          " CPU p99 other / this (this/other) | gc runs other / this |")
    print("| --- | --- | --- | --- | --- | --- |")
    slow: dict[str, list[str]] = {}
    for op in [op for op in OPS if op in args.ops.split(",")]:
        n = args.runs if op in ("status", "view") else args.pages
        wanted = [str(rng.randint(1, tickets)) if op in ("status", "view") else str(rng.randint(0, max(0, tickets * 40 - 1000)))
                  for _ in range(n)]
        got: dict[str, list[tuple[float, float, int]]] = {name: [] for name in procs}
        warm = min(20, n)
        for i, arg in enumerate(wanted[:warm] + wanted):  # the first calls warm the caches, not counted
            for name in (("this", "other") if i % 2 else ("other", "this")):
                p = procs[name]
                assert p.stdin is not None and p.stdout is not None
                p.stdin.write(f"{op} {arg}\n")
                p.stdin.flush()
                w, c, g = p.stdout.readline().split()
                if i >= warm:
                    got[name].append((float(w), float(c), int(g)))
        load.append(os.getloadavg()[0])
        fig = {name: [[r[k] for r in rows] for k in (0, 1)] for name, rows in got.items()}
        o, t = fig["other"], fig["this"]
        print(f"| {op} | {statistics.median(o[0]):.3f} / {statistics.median(t[0]):.3f} ms"
              f" | {pct(o[0], 99):.3f} / {pct(t[0], 99):.3f} ms"
              f" | {statistics.median(o[1]):.3f} / {statistics.median(t[1]):.3f} ms"
              f" ({statistics.median(t[1]) / statistics.median(o[1]):.2f}x)"
              f" | {pct(o[1], 99):.3f} / {pct(t[1], 99):.3f} ms ({pct(t[1], 99) / pct(o[1], 99):.2f}x)"
              f" | {sum(r[2] for r in got['other'])} / {sum(r[2] for r in got['this'])} |")
        for name, rows in got.items():
            worst = sorted(rows, key=lambda r: -r[0])[: max(1, n // 100)]
            slow[f"{op} {name}"] = [f"{w:.2f}/{c:.2f}" for w, c, _ in worst]
    print(f"load average (1 min) {min(load):.2f}-{max(load):.2f}")
    print("slowest 1% of calls, wall/CPU ms:")
    for key, calls in slow.items():
        print(f"  {key}: {', '.join(calls)}")
    for p in procs.values():
        assert p.stdin is not None
        p.stdin.close()
        p.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
