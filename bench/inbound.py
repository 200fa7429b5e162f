"""Benchmark of inbound matching: answers/s over IMAP from a private Dovecot, with 1M replies sent and 1M answers kept.

The store is built once under /tmp (reused when present): 1,000,000 replies
maild sent (messages, each with a To and a Cc recipient) and 1,000,000 rows
in `inbound_replies` (answers matched earlier). Each round APPENDs N answers
to a fresh Dovecot mailbox (not timed): 80% from a recipient of a random
sent reply (half of them with a +tag or in upper case), 10% from a third
party, 10% naming a Message-ID maild never sent. Then the IMAP inbound source
starts and the clock runs until it has looked at all N. In the same round the
matching alone (header reading + `record_answer` in one transaction per 500,
no IMAP) is timed over the same bytes on a second copy of the same state, as
the baseline: the ratio tells what IMAP costs on top. Both copies are made
once; each round adds its N answers to them (N is tiny beside 1M).

Usage: python bench/inbound.py [--answers 2000] [--rounds 3] [--replies 1000000]
Needs root and dovecot-imapd (as the integration tests).
"""

from __future__ import annotations

import argparse
import os
import asyncio
import contextlib
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from maild import config, logs  # noqa: E402
from maild.inbound.headers import read_headers  # noqa: E402
from maild.inbound.imap import InboundImapSource  # noqa: E402
from maild.inbound.match import record_answer  # noqa: E402
from maild.store import Store, open_for_command, transaction  # noqa: E402
from maild.store.db import open_db  # noqa: E402
from tests.inbound import mail  # noqa: E402
from tests.servers.dovecot import Dovecot  # noqa: E402

CHUNK = 50_000
BATCH = 100  # [[inbound]] batch_size: header fields of this many messages per UID FETCH


def build(path: Path, replies: int) -> None:
    """The real schema, then `replies` sent replies (To + Cc each) and as many earlier answers, in big transactions."""
    open_db(path).conn.close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    msgs, rcpts, answers = [], [], []

    def flush() -> None:
        conn.executemany(
            "INSERT INTO messages (id, queue_id, message_id, ticket, department, sender, subject, received_at, tracked,"
            " receipts_requested, headers) VALUES (?, ?, ?, ?, 'Billing', 'agent@helpdesk.example.com', 'Re: x',"
            " '2026-01-01T00:00:00.000Z', 1, 1, x'00')", msgs)
        conn.executemany(
            "INSERT INTO recipients (id, message, address, kind, delivery_state, attempts, updated_at)"
            " VALUES (?, ?, ?, ?, 'accepted', 1, '2026-01-01T00:00:00.000Z')", rcpts)
        conn.executemany(
            "INSERT INTO inbound_replies (key, source, via, ref, verdict, message, recipient, author, matched_by, at,"
            " recorded_at, headers) VALUES (?, 'bench', 'imap', '1:1', 'reply', ?, ?, ?, 'from',"
            " '2026-01-02T00:00:00.000Z', '2026-01-02T00:00:00.000Z', NULL)", answers)
        msgs.clear(), rcpts.clear(), answers.clear()

    for m in range(1, replies + 1):
        msgs.append((m, f"Q{m:011d}", f"<r{m}@helpdesk.example.com>", str((m - 1) // 4 + 1)))
        rcpts.append((2 * m - 1, m, f"to{m}@example.net", "to"))
        rcpts.append((2 * m, m, f"cc{m}@example.net", "cc"))
        answers.append((f"mid:<old{m}@client.example.net>", m, 2 * m - 1, f"to{m}@example.net"))
        if len(msgs) >= CHUNK:
            flush()
            conn.execute("COMMIT")
            conn.execute("BEGIN")
    flush()
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def answers(n: int, replies: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        m = rng.randint(1, replies)
        kind = i % 10
        if kind < 8:
            author = f"to{m}@example.net" if kind % 2 == 0 else f"CC{m}+home@EXAMPLE.net"
            raw = mail.answer(author, f"<r{m}@helpdesk.example.com>")
        elif kind == 8:
            raw = mail.answer(f"colleague{m}@example.org", f"<r{m}@helpdesk.example.com>")
        else:
            raw = mail.answer(f"to{m}@example.net", f"<never{m}@helpdesk.example.com>")
        out.append(raw)
    return out


def match_only(path: Path, raws: list[bytes]) -> float:
    """Seconds to read and match every answer (the store side alone), 500 per transaction."""
    db = open_for_command(path)
    now = datetime.now(UTC)
    start = time.perf_counter()
    for i in range(0, len(raws), 500):
        heads = [read_headers(r) for r in raws[i : i + 500]]
        transaction(db, lambda d, hs=heads: [record_answer(d, h, source="bench", via="imap", ref="x", now=now) for h in hs])
    elapsed = time.perf_counter() - start
    db.conn.close()
    return elapsed


async def imap_round(dovecot: Dovecot, path: Path, workdir: Path, raws: list[bytes]) -> float:
    box = dovecot.add_user()
    await asyncio.to_thread(lambda: [dovecot.append(box, r) for r in raws])
    settings = config.parse(
        {"inbound": [{"url": dovecot.url(box), "password_file": str(dovecot.password_file(box, workdir)),
                      "batch_size": BATCH}]}, workdir / "maild.toml").inbound[0]
    store = Store(path).open()
    source = InboundImapSource(settings, store)
    start = time.perf_counter()
    task = asyncio.create_task(source.run())
    while source.counts.seen < len(raws):
        if task.done():
            task.result()
        await asyncio.sleep(0.002)
    elapsed = time.perf_counter() - start
    await source.stop()
    await asyncio.wait_for(task, 30)
    store.close()
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--answers", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--replies", type=int, default=1_000_000)
    args = ap.parse_args()
    logs.configure("error", "json")
    cached = Path(tempfile.gettempdir()) / f"maild-bench-inbound-{args.replies}.db"
    if not cached.exists():
        t = time.perf_counter()
        build(cached, args.replies)
        print(f"built {cached} ({cached.stat().st_size / 1e9:.2f} GB) in {time.perf_counter() - t:.0f} s", flush=True)
    dovecot = Dovecot.start_new()
    work = Path(tempfile.mkdtemp(prefix="maild-bench-inbound-"))
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    imap_rates, match_rates = [], []
    for name in ("imap.db", "match.db"):  # both sides start from the same 1M + 1M state
        shutil.copy(cached, work / name)
    try:
        for r in range(args.rounds):
            raws = answers(args.answers, args.replies, seed=r)
            match_s = match_only(work / "match.db", raws)
            imap_s = asyncio.run(imap_round(dovecot, work / "imap.db", work, raws))
            with contextlib.closing(sqlite3.connect(work / "imap.db")) as db:
                events = db.execute("SELECT count(*) FROM events WHERE kind = 'replied'").fetchone()[0]
            imap_rates.append(len(raws) / imap_s)
            match_rates.append(len(raws) / match_s)
            print(f"round {r + 1}: IMAP {imap_rates[-1]:.0f} answers/s ({imap_s:.2f} s, {events} replied events),"
                  f" matching alone {match_rates[-1]:.0f} answers/s", flush=True)
    finally:
        dovecot.close()
        shutil.rmtree(work, ignore_errors=True)
    imap_med, match_med = statistics.median(imap_rates), statistics.median(match_rates)
    print(f"median: IMAP {imap_med:.0f} answers/s, matching alone {match_med:.0f} answers/s, "
          f"ratio IMAP/matching {imap_med / match_med:.2f} ({args.replies} replies, {args.answers} answers per round)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
