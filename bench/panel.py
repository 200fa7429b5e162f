"""Benchmark of the web panel: ticket pages and reply lists rendered from a large store, and idle live pages' cost.

    .venv/bin/python bench/panel.py --db /work/bench-cache/panel/maild.db   # built there once (1M replies,
                                                    # 10M events, ~7 min), then reused and brought up to date
    .venv/bin/python bench/panel.py --scale 0.01    # a quick run on a throwaway store

Each figure is printed with its target and whether it was met (the last lines), with the load
average: the figures are wall-clock times, which a busy machine stretches.

Server time of a page is what its handler does, measured in-process on maild's own read-only
connection: the reads through maild.queries, the view models and the Jinja2 rendering (no HTTP
client in the figure). Live pages: a real `build_app` server in a child process with N open
`/ui/live` event streams of logged-in sessions; its CPU time (utime + stime from /proc) over an
idle window is the cost, as a share of one core.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.query import build, pct  # noqa: E402
from maild.daemon import settle_heap  # noqa: E402
from maild import queries  # noqa: E402
from maild.store.db import connect  # noqa: E402
from maild.web import views  # noqa: E402
from maild.web.render import render  # noqa: E402
from maild.web.routes import TICKET_PAGE  # noqa: E402


CPU_MS: dict[int, list[float]] = {}  # id(wall list) -> the same calls' CPU time of this thread, in ms


def timed_each(fn, items) -> list[float]:  # noqa: ANN001
    """Wall-clock ms of each call (the figure); its thread CPU ms kept beside it, less stretched by a busy machine."""
    out, cpu = [], []
    for item in items:
        c, t = time.thread_time(), time.perf_counter()
        fn(item)
        out.append((time.perf_counter() - t) * 1000)
        cpu.append((time.thread_time() - c) * 1000)
    CPU_MS[id(out)] = cpu
    return out


def cpu(values: list[float], p: float) -> float:
    return round(pct(CPU_MS[id(values)], p), 2)


def pages(path: Path, tickets: int, runs: int) -> dict[str, float]:
    db = connect(path, readonly=True)
    rng = random.Random(7)
    wanted = [str(rng.randint(1, tickets)) for _ in range(runs)]

    def ticket_page(t: str) -> None:
        db.conn.execute("BEGIN")
        try:
            page = queries.load_thread_page(db, t, limit=TICKET_PAGE)  # as the ticket route reads it
            assert page is not None
            view = views.ticket_view(page.info, queries.thread_timelines(db, t, page.message_ids))
        finally:
            db.conn.execute("ROLLBACK")
        render("ticket.html", session=None, active="", ticket=view, live_ticket=t, live_version=0, later=None,
               first=None)

    top = db.execute("SELECT max(id) FROM messages").fetchone()[0]
    befores = [None] * (runs // 2) + [rng.randint(100, top) for _ in range(runs - runs // 2)]

    def replies_page(before: int | None) -> None:
        db.conn.execute("BEGIN")
        try:
            page = queries.list_replies(db, before=before, limit=50)
        finally:
            db.conn.execute("ROLLBACK")
        assert len(page.rows) == 50
        render("replies.html", session=None, active="", replies=views.reply_list(page.rows), search="", older=None,
               newest=None, live_ticket="", live_version=0)

    searches = [str(rng.randint(1, tickets)) for _ in range(runs // 5 or 1)]
    addresses = [f"user{rng.randint(1, tickets * 12)}@example.net" for _ in range(runs // 5 or 1)]
    subjects = [f"ticket {rng.randint(1, tickets)}" for _ in range(runs // 5 or 1)]

    def search_page(term: str) -> None:
        db.conn.execute("BEGIN")
        try:
            page = queries.list_replies(db, search=term, limit=50)
        finally:
            db.conn.execute("ROLLBACK")
        assert page.rows, term  # every term names something stored: a search that finds nothing proves nothing
        render("replies.html", session=None, active="", replies=views.reply_list(page.rows), search=term,
               older=None, newest=None, live_ticket="", live_version=0)

    settle_heap()  # as `maild run` does once started: start-up objects out of the full collections' way
    timed_each(ticket_page, wanted[:50])  # warm, as a running daemon's reader is
    ticket_ms = timed_each(ticket_page, wanted)
    replies_ms = timed_each(replies_page, befores)
    search_ms = timed_each(search_page, searches)
    address_ms = timed_each(search_page, addresses)
    subject_ms = timed_each(search_page, subjects)
    db.conn.close()
    return {
        "ticket_page_cpu_p50_ms": cpu(ticket_ms, 50),
        "ticket_page_cpu_p99_ms": cpu(ticket_ms, 99),
        "replies_50_cpu_p50_ms": cpu(replies_ms, 50),
        "replies_50_cpu_p99_ms": cpu(replies_ms, 99),
        "ticket_page_p50_ms": round(statistics.median(ticket_ms), 2),
        "ticket_page_p99_ms": round(pct(ticket_ms, 99), 2),
        "replies_50_p50_ms": round(statistics.median(replies_ms), 2),
        "replies_50_p99_ms": round(pct(replies_ms, 99), 2),
        "search_ticket_p50_ms": round(statistics.median(search_ms), 2),
        "search_ticket_p99_ms": round(pct(search_ms, 99), 2),
        "search_address_p50_ms": round(statistics.median(address_ms), 2),
        "search_address_p99_ms": round(pct(address_ms, 99), 2),
        "search_subject_p50_ms": round(statistics.median(subject_ms), 2),
        "search_subject_p99_ms": round(pct(subject_ms, 99), 2),
    }


# (figure, limit in ms or percent, what the issue asks). Search has no number in the issue: 50 ms, as a list page.
TARGETS = (
    ("ticket_page_p99_ms", 20.0, "ticket page p99 < 20 ms"),
    ("replies_50_p50_ms", 50.0, "replies list of 50 < 50 ms (p50)"),
    ("replies_50_p99_ms", 50.0, "replies list of 50 < 50 ms (p99)"),
    ("search_ticket_p99_ms", 50.0, "search by ticket, through an index: p99 < 50 ms (as a list page)"),
    ("share_of_one_core_percent", 5.0, "200 idle live pages < 5% of a core"),
)


def verdicts(result: dict[str, object]) -> list[str]:
    lines = []
    for key, limit, words in TARGETS:
        value = result.get(key)
        if isinstance(value, int | float):
            lines.append(f"{'met' if value < limit else 'NOT MET':8} {words}: {value}")
    return lines


def prepare(path: Path, scale: float) -> dict[str, object]:
    """A kept store at `path`: built there when missing (and kept), else reused; migrated to this maild's schema."""
    from maild.store.db import open_db, schema_version
    from maild.store.subjects import BATCH, index_subjects

    out: dict[str, object] = {}
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        out.update(build(path, max(8, int(1_000_000 * scale))))
        out["build_seconds"] = round(time.perf_counter() - t, 1)
    probe = connect(path, readonly=True)
    before = schema_version(probe)
    probe.conn.close()
    t = time.perf_counter()
    db = open_db(path)  # a store kept from an older maild gets its migrations (indexes) once, here
    after = schema_version(db)
    if after != before:
        out["migrated"] = f"{before} -> {after} in {time.perf_counter() - t:.1f} s"
    # A running daemon's catch-up loop (store.subjects.keep_indexed) fills the subject index within seconds of
    # its start; a store built here at the current schema has had no daemon, so its index is caught up the same
    # way before any search is timed (else every subject search reads the whole messages table past the index).
    t = time.perf_counter()
    indexed = 0
    while True:
        batch = index_subjects(db)
        db.conn.commit()
        indexed += batch
        if batch < BATCH:
            break
    if indexed:
        out["subjects_indexed"] = f"{indexed} in {time.perf_counter() - t:.1f} s"
    if after != before or indexed:
        db.execute("ANALYZE")
        db.conn.commit()
    db.conn.close()
    return out


SERVE = """
import asyncio, sys
from pathlib import Path
from maild import config
from maild.http import start_http
from maild.store import Store
async def main():
    s = config.load(Path(sys.argv[1]))
    store = Store(s.store.path)
    await asyncio.to_thread(store.open)
    server = await start_http(s, store)
    print(server.port, flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def serve(path: Path, workdir: Path) -> subprocess.Popen[str]:
    """The panel's real server on a free port, in a child process whose CPU time is measured; one agent user."""
    from maild.web.users import Role, add_user

    users = workdir / "web-users"
    add_user(users, "bench", Role.AGENT, "bench-password")
    cfg = workdir / "panel.toml"
    cfg.write_text(f'[store]\npath = "{path}"\n[http]\nlisten = "127.0.0.1:0"\ntoken_file = "{workdir}/api.token"\n'
                   f'[web]\nusers_file = "{users}"\nembed_key_file = "{workdir}/embed.key"\n')
    return subprocess.Popen([sys.executable, "-c", SERVE, str(cfg)], stdout=subprocess.PIPE, cwd=ROOT,
                            stderr=subprocess.DEVNULL, text=True)


async def live_cost(pid: int, port: int, n: int, idle: float) -> dict[str, float]:
    import aiohttp

    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession(
        base_url=base, cookie_jar=aiohttp.CookieJar(unsafe=True), connector=aiohttp.TCPConnector(limit=0),
        timeout=aiohttp.ClientTimeout(total=None, sock_read=None),
    ) as client:
        async with client.get("/ui/login") as r:
            found = re.search(r'name="csrf" value="([^"]+)"', await r.text())
            assert found is not None
        form = {"csrf": found.group(1), "username": "bench", "password": "bench-password", "next": "/ui/"}
        async with client.post("/ui/login", data=form, allow_redirects=False) as r:
            assert r.status == 303, r.status
        streams = []
        for i in range(n):
            resp = await client.get(f"/ui/live?ticket={i + 1}&since=0")
            assert resp.status == 200
            await resp.content.readline()  # the "retry:" line: the stream is open
            streams.append(resp)
        await asyncio.sleep(3)  # let set-up work settle
        t0, c0 = time.monotonic(), cpu_seconds(pid)
        await asyncio.sleep(idle)
        t1, c1 = time.monotonic(), cpu_seconds(pid)
        for resp in streams:
            resp.close()
    return {"live_pages": n, "idle_seconds": round(t1 - t0, 1), "server_cpu_seconds": round(c1 - c0, 3),
            "share_of_one_core_percent": round(100 * (c1 - c0) / (t1 - t0), 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0, help="1.0 = 1M replies, 3M recipients, 10M events")
    ap.add_argument("--runs", type=int, default=1000, help="pages timed of each kind")
    ap.add_argument("--live", type=int, default=200, help="open live pages")
    ap.add_argument("--idle", type=float, default=30.0, help="seconds the live pages are watched idle")
    ap.add_argument("--db", type=Path, default=None,
                    help="a kept store: built there when missing, else reused (and migrated); e.g. under /work/bench-cache/")
    ap.add_argument("--dir", default="/tmp", help="where a new database goes (deleted afterwards)")
    args = ap.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="maild-bench-panel-", dir=args.dir))
    path = args.db or workdir / "maild.db"
    try:
        result: dict[str, object] = {"load_average_at_start": os.getloadavg()[0]}
        result.update(prepare(path, args.scale))
        db = connect(path, readonly=True)
        tickets = int(db.execute("SELECT count(DISTINCT ticket) FROM messages").fetchone()[0])
        result["events"] = int(db.execute("SELECT max(id) FROM events").fetchone()[0])
        db.conn.close()
        result.update(pages(path, tickets, args.runs))
        server = serve(path, workdir)
        try:
            assert server.stdout is not None
            port = int(server.stdout.readline())
            result.update(asyncio.run(live_cost(server.pid, port, args.live, args.idle)))
        finally:
            server.terminate()
            server.wait(10)
        result["load_average"] = os.getloadavg()[0]
        print(json.dumps(result, indent=2))
        print("\n".join(verdicts(result)))
        return 0
    finally:
        for f in sorted(workdir.glob("**/*"), reverse=True):
            f.unlink() if f.is_file() else f.rmdir()
        workdir.rmdir()


if __name__ == "__main__":
    raise SystemExit(main())
