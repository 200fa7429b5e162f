"""Benchmark of the read side: builds a large store and times `maild status`, an events page and the SQL views.

    .venv/bin/python bench/query.py                # 1M replies, 3M recipients, 10M events
    .venv/bin/python bench/query.py --scale 0.01   # a quick run
    .venv/bin/python bench/query.py --scale 0.01 --against /work/wt-old --rounds 5   # side by side with a checkout
    MAILD_REPO=/path/to/checkout .venv/bin/python bench/query.py   # one run of another checkout's code

With --against, each round runs this script once for this checkout and once for the other one (in turn, each
in its own process with MAILD_REPO, each building its own store with its own schema), and prints both medians,
their ratio and the load average around each run. The other checkout may predate issue 9 (its
`thread_json` and `receipts_default=` are used then).

The store is built under /tmp with executemany in big transactions and
synchronous=OFF (the build only; the measurements use maild's own connection
settings), then deleted unless --keep.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(os.environ.get("MAILD_REPO") or Path(__file__).resolve().parents[1])  # another checkout: before/after
sys.path.insert(0, str(REPO))

from maild import queries  # noqa: E402
from maild.store.db import connect, open_db  # noqa: E402

try:
    from maild.core.jsonvalue import to_json as encode  # since issue 9: the one encoder
except ImportError:  # a checkout from before issue 9: hand-written encoders
    from maild.status import thread_json as encode  # type: ignore[no-redef]

# Before issue 9 the readers took the receipts default as an argument; since then the store keeps it.
OLD_API = {"receipts_default": True} if "receipts_default" in inspect.signature(queries.load_thread).parameters else {}


def event_json(e: object) -> object:
    return e.to_json() if hasattr(e, "to_json") else encode(e)  # before issue 9: EventView.to_json

REPLIES_PER_TICKET = 4
DEPARTMENTS = ["Billing", "Sales", "Support", "Legal", "Shipping", "Returns", "Accounts", "Tech", "Admin", "HR"]
CHUNK = 200_000


def iso(base: float, seconds: float) -> str:
    t = time.gmtime(base + seconds)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + ".000Z"


def build(path: Path, replies: int) -> dict[str, int]:
    db = open_db(path)  # the real schema, migrated
    db.conn.close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -400000")
    conn.execute("DROP INDEX events_kind_at")  # rebuilt once at the end: cheaper than random inserts
    conn.execute("UPDATE departments SET receipts_enabled = receipts_enabled")
    conn.execute(
        "INSERT INTO departments (key, name, receipts_enabled, updated_at) VALUES ('legal', 'Legal', 0, '2026-01-01T00:00:00.000Z')"
    )
    base = 1_767_225_600.0  # 2026-01-01
    n_msg = n_rcpt = n_ev = 0
    rid = eid = 0
    conn.execute("BEGIN")
    msgs, rcpts, evs = [], [], []

    def flush() -> None:
        conn.executemany(
            "INSERT INTO messages (id, queue_id, message_id, ticket, department, sender, subject, received_at,"
            " tracked, receipts_requested, headers) VALUES (?, ?, ?, ?, ?, 'agent@helpdesk.example.com', ?, ?, 1, 1, x'00')",
            msgs,
        )
        conn.executemany(
            "INSERT INTO recipients (id, message, address, kind, token, delivery_state, attempts, updated_at)"
            " VALUES (?, ?, ?, ?, NULL, ?, 1, ?)",
            rcpts,
        )
        conn.executemany(
            "INSERT INTO events (id, recipient, message, kind, at, recorded_at, source, status, reason, hard, diagnostic)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            evs,
        )
        msgs.clear()
        rcpts.clear()
        evs.clear()

    for m in range(1, replies + 1):
        ticket = (m - 1) // REPLIES_PER_TICKET + 1
        t0 = m * 30.0
        msgs.append((m, f"Q{m:011d}", f"<r{m}@helpdesk.example.com>", str(ticket),
                     DEPARTMENTS[ticket % len(DEPARTMENTS)], f"Re: ticket {ticket}", iso(base, t0)))
        for k, kind in enumerate(("to", "cc", "bcc")):
            rid += 1
            rcpts.append((rid, m, f"user{rid}@example.net", kind, "accepted", iso(base, t0 + 2)))
            seq = [("queued", 0, "smtp"), ("accepted", 2, "smtp")]
            if rid % 3 == 0:
                seq += [("delivered", 60, "dsn"), ("displayed", 3600 + k, "mdn")]
            elif rid % 3 == 1:
                seq += [("delivered", 60, "dsn")]
            else:
                seq += [("bounced", 120, "dsn")]
            for kind_ev, dt, source in seq:
                eid += 1
                at = iso(base, t0 + dt)
                if kind_ev == "bounced":
                    evs.append((eid, rid, m, kind_ev, at, at, source, "5.1.1", "userunknown", 1, "550 5.1.1 user unknown"))
                else:
                    evs.append((eid, rid, m, kind_ev, at, at, source, None, None, None, None))
        n_msg += 1
        if len(evs) >= CHUNK:
            flush()
            conn.execute("COMMIT")
            conn.execute("BEGIN")
    flush()
    conn.execute("COMMIT")
    conn.execute("CREATE INDEX events_kind_at ON events (kind, at)")
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    n_rcpt, n_ev = rid, eid
    return {"replies": n_msg, "recipients": n_rcpt, "events": n_ev, "tickets": (replies - 1) // REPLIES_PER_TICKET + 1}


CPU: dict[int, list[float]] = {}  # per timed() series, this process's CPU time of each call (ms)


def timed(fn, runs: int) -> list[float]:
    """Wall time of each call (ms); its CPU time goes to CPU[id(result)], steadier on a shared machine."""
    out, cpu = [], []
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        fn()
        cpu.append((time.process_time() - c) * 1000)
        out.append((time.perf_counter() - t) * 1000)
    CPU[id(out)] = cpu
    return out


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0, help="1.0 = 1M replies, 3M recipients, 10M events")
    ap.add_argument("--runs", type=int, default=2000, help="status calls timed")
    ap.add_argument("--pages", type=int, default=200, help="events pages timed")
    ap.add_argument("--keep", action="store_true", help="keep the database")
    ap.add_argument("--dir", default="/tmp", help="where the database goes")
    ap.add_argument("--against", metavar="CHECKOUT", action="append",
                    help="run side by side with another checkout's code (may be given more than once)")
    ap.add_argument("--rounds", type=int, default=3, help="with --against: runs of each, alternately")
    args = ap.parse_args()
    if args.against:
        return side_by_side(args)
    replies = max(8, int(1_000_000 * args.scale))
    workdir = Path(tempfile.mkdtemp(prefix="maild-bench-", dir=args.dir))
    path = workdir / "maild.db"
    try:
        t = time.perf_counter()
        counts = build(path, replies)
        build_s = time.perf_counter() - t
        size = path.stat().st_size
        db = connect(path, readonly=True)
        rng = random.Random(5)
        tickets = [str(rng.randint(1, counts["tickets"])) for _ in range(args.runs)]

        def status_once(ticket: str) -> None:
            db.conn.execute("BEGIN")
            try:
                encode(queries.load_thread(db, ticket, **OLD_API))
            finally:
                db.conn.execute("ROLLBACK")

        for tk in tickets[:50]:  # warm the cache the way a running daemon's reader is warm
            status_once(tk)
        it = iter(tickets)
        status_ms = timed(lambda: status_once(next(it)), args.runs)

        it_v = iter(tickets)
        view_ms = timed(
            lambda: db.execute("SELECT * FROM reply_status WHERE ticket = ?", (next(it_v),)).fetchall(),
            min(args.runs, 500),
        )
        cursors = [rng.randint(0, max(0, counts["events"] - 1000)) for _ in range(args.pages)]
        it_c = iter(cursors)
        page_ms = timed(lambda: queries.list_events(db, after=next(it_c), limit=1000, **OLD_API), args.pages)
        it_j = iter(cursors)  # the same pages again, each event as `maild events --json` encodes it
        json_ms = timed(
            lambda: [json.dumps(event_json(e)) for e in queries.list_events(db, after=next(it_j), limit=1000,
                                                                               **OLD_API).events],
            args.pages,
        )
        db.conn.close()

        cfg = workdir / "maild.toml"
        cfg.write_text(f'[store]\npath = "{path}"\n')
        cli = []
        for tk in tickets[:5]:
            t = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "maild", "status", tk, "--json", "--config", str(cfg)],
                check=True,
                stdout=subprocess.DEVNULL,
                cwd=REPO,
            )
            cli.append((time.perf_counter() - t) * 1000)
        result = {
            **counts,
            "build_seconds": round(build_s, 1),
            "db_bytes": size,
            "status_p50_ms": round(statistics.median(status_ms), 3),
            "status_p99_ms": round(pct(status_ms, 99), 3),
            "view_reply_status_p50_ms": round(statistics.median(view_ms), 3),
            "view_reply_status_p99_ms": round(pct(view_ms, 99), 3),
            "events_page_1000_p50_ms": round(statistics.median(page_ms), 3),
            "events_page_1000_p99_ms": round(pct(page_ms, 99), 3),
            "events_page_1000_json_p50_ms": round(statistics.median(json_ms), 3),
            "status_cpu_p50_ms": round(statistics.median(CPU[id(status_ms)]), 3),
            "events_page_1000_cpu_p50_ms": round(statistics.median(CPU[id(page_ms)]), 3),
            "events_page_1000_json_cpu_p50_ms": round(statistics.median(CPU[id(json_ms)]), 3),
            "cli_status_first_ms": round(cli[0], 1),
            "cli_status_median_ms": round(statistics.median(cli), 1),
        }
        print(json.dumps(result, indent=2))
        return 0
    finally:
        if not args.keep:
            for f in workdir.iterdir():
                f.unlink()
            os.rmdir(workdir)


FIGURES = ("status_p50_ms", "status_cpu_p50_ms", "status_p99_ms", "view_reply_status_p50_ms",
           "events_page_1000_p50_ms", "events_page_1000_cpu_p50_ms", "events_page_1000_p99_ms",
           "events_page_1000_json_p50_ms", "events_page_1000_json_cpu_p50_ms", "cli_status_median_ms")


def side_by_side(args: argparse.Namespace) -> int:
    """Alternate runs of this checkout and the others; print each figure's medians and this/other ratios."""
    here = Path(__file__).resolve().parents[1]
    repos = {"this": here, **{f"other{i + 1}": Path(a).resolve() for i, a in enumerate(args.against)}}
    passed = ["--scale", str(args.scale), "--runs", str(args.runs), "--pages", str(args.pages), "--dir", args.dir]
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in repos}
    loads = []
    order = list(repos)
    for n in range(args.rounds):
        for name in order[n % len(order):] + order[:n % len(order)]:  # each checkout goes first in turn
            before = os.getloadavg()[0]
            out = subprocess.run([sys.executable, str(Path(__file__).resolve()), *passed], check=True,
                                 capture_output=True, text=True,
                                 env={**os.environ, "MAILD_REPO": str(repos[name])}).stdout
            runs[name].append(json.loads(out))
            loads.append((before, os.getloadavg()[0]))
            print(f"round {n + 1} {name}: load {loads[-1][0]:.2f} -> {loads[-1][1]:.2f}", file=sys.stderr)
    others = [name for name in repos if name != "this"]
    print(f"bench/query.py --scale {args.scale} --runs {args.runs} --pages {args.pages}: {args.rounds} rounds,"
          f" alternately; load average (1 min) {min(min(x) for x in loads):.2f}-{max(max(x) for x in loads):.2f}")
    for name, repo in repos.items():
        print(f"  {name} = {repo}")
    print(f"| figure, ms (median of {args.rounds}) | " + " | ".join(others) + " | this | "
          + " | ".join(f"this/{o}" for o in others) + " |")
    print("| --- " * (2 * len(others) + 2) + "|")
    for f in FIGURES:
        med = {name: statistics.median(r[f] for r in runs[name]) for name in repos}
        print(f"| {f} | " + " | ".join(f"{med[o]:.3f}" for o in others) + f" | {med['this']:.3f} | "
              + " | ".join(f"{med['this'] / med[o]:.2f}" for o in others) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
