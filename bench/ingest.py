"""Benchmark of the receipts ingest: reports/s from a private Dovecot over IMAP and from a Maildir, and APPEND-to-event latency with IDLE.

Each round: N messages sent by maild (one recipient each) and N MDNs/DSNs for
them, APPENDed to a fresh Dovecot mailbox (not timed); then the IMAP source
starts and the clock runs until every report is committed and moved out of
INBOX. The same N reports written into a fresh Maildir are timed the same way,
and the parser alone over the same bytes is timed in the same round as the
baseline (ratios are within one round). Latency: with the source idling, one
report is APPENDed at a time and the time until its event is committed is
taken (polling the database every 2 ms).

Usage: python bench/ingest.py [--reports 1000] [--rounds 3] [--latency 30]
Needs root and dovecot-imapd (as the integration tests).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from maild import config, logs, reports, spool  # noqa: E402
from maild.core.events import RecipientKind  # noqa: E402
from maild.receipts.imap import ImapSource  # noqa: E402
from maild.receipts.ingest import Ingestor, hints_from  # noqa: E402
from maild.receipts.maildir import MaildirSource  # noqa: E402
from maild.store import Store, open_for_command, transaction  # noqa: E402
from maild.tokens import KeySet  # noqa: E402
from tests.receipts import mail  # noqa: E402
from tests.servers.dovecot import Dovecot  # noqa: E402

KEYS = KeySet({"a": bytes(range(32))}, "a")
KEY_LINE = "a:" + bytes(range(32)).hex() + "\n"


def prepare(workdir: Path, n: int) -> tuple[config.Settings, list[bytes]]:
    """A database with one message of n recipients, and one report per recipient (alternating MDN and DSN)."""
    (workdir / "token.key").write_text(KEY_LINE)
    (workdir / "token.key").chmod(0o600)
    cfg = workdir / "maild.toml"
    cfg.write_text('[store]\npath = "maild.db"\n[tracking]\nkey_file = "token.key"\n'
                   '[[receipts]]\nurl = "maildir:receipts"\npoll_interval = "0.01s"\nbatch_size = 200\n')
    settings = config.load(cfg)
    db = open_for_command(settings.store.path)
    from datetime import UTC, datetime

    sub = spool.Submission(
        queue_id=spool.new_queue_id(), sender="agent@helpdesk.example.com",
        recipients=tuple(spool.SpoolRecipient(f"u{i}@example.net", RecipientKind.TO) for i in range(n)),
        headers=b"Message-ID: <bench@helpdesk.example.com>\r\n\r\n", body=b"x\r\n",
        received_at=datetime(2026, 1, 1, tzinfo=UTC), message_id="<bench@helpdesk.example.com>",
    )
    transaction(db, lambda d: spool.enqueue(d, sub, KEYS))
    rows = db.execute("SELECT address, token FROM recipients ORDER BY id").fetchall()
    db.conn.close()
    raws = [
        mail.mdn(tok, addr, original_message_id="<bench@helpdesk.example.com>") if i % 2 == 0
        else mail.dsn(tok, addr, original_message_id="<bench@helpdesk.example.com>")
        for i, (addr, tok) in enumerate(rows)
    ]
    return settings, raws


def count_events(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT count(*) FROM events WHERE kind != 'queued'").fetchone()[0]


async def wait_until(condition, timeout: float, interval: float = 0.002) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark condition not reached")
        await asyncio.sleep(interval)


async def imap_round(server: Dovecot, n: int) -> float:
    work = Path(tempfile.mkdtemp(prefix="bench-imap-"))
    try:
        settings, raws = prepare(work, n)
        box = server.add_user()
        with server.client(box) as c:  # setup, not timed
            for raw in raws:
                c.append("INBOX", None, None, raw)
        table = {"url": server.url(box), "password_file": str(server.password_file(box, work)), "batch_size": 200}
        src_settings = config.parse({"receipts": [table]}, work / "maild.toml").receipts[0]
        store = Store(settings.store.path).open()
        try:
            ingestor = Ingestor(settings, store, KEYS)
            source = ImapSource(src_settings, ingestor, store)
            started = time.perf_counter()
            task = asyncio.create_task(source.run())
            await wait_until(lambda: count_events(settings.store.path) >= n, 300, 0.02)
            await wait_until(lambda: not server.uids(box, "INBOX"), 60, 0.02)
            elapsed = time.perf_counter() - started
            await source.stop()
            await task
        finally:
            store.close()
        return n / elapsed
    finally:
        shutil.rmtree(work, ignore_errors=True)


async def maildir_round(n: int) -> float:
    work = Path(tempfile.mkdtemp(prefix="bench-maildir-"))
    try:
        settings, raws = prepare(work, n)
        root = work / "receipts"
        for sub in ("new", "cur", "tmp"):
            (root / sub).mkdir(parents=True)
        for i, raw in enumerate(raws):
            (root / "new" / f"{1700000000 + i}.M{i}P{os.getpid()}.bench").write_bytes(raw)
        store = Store(settings.store.path).open()
        try:
            ingestor = Ingestor(settings, store, KEYS)
            source = MaildirSource(settings.receipts[0], ingestor, store)
            started = time.perf_counter()
            task = asyncio.create_task(source.run())
            await wait_until(lambda: not any((root / "new").iterdir()) and count_events(settings.store.path) >= n, 300, 0.02)
            elapsed = time.perf_counter() - started
            await source.stop()
            await task
        finally:
            store.close()
        return n / elapsed
    finally:
        shutil.rmtree(work, ignore_errors=True)


def parse_round(raws: list[bytes], settings: config.Settings) -> float:
    hints = hints_from(settings.tracking)
    started = time.perf_counter()
    for raw in raws:
        reports.parse(raw, hints)
    return len(raws) / (time.perf_counter() - started)


async def latency_run(server: Dovecot, samples: int) -> list[float]:
    work = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    try:
        settings, raws = prepare(work, samples)
        box = server.add_user()
        table = {"url": server.url(box), "password_file": str(server.password_file(box, work))}
        src_settings = config.parse({"receipts": [table]}, work / "maild.toml").receipts[0]
        store = Store(settings.store.path).open()
        out: list[float] = []
        try:
            source = ImapSource(src_settings, Ingestor(settings, store, KEYS), store)
            task = asyncio.create_task(source.run())
            await wait_until(lambda: source.connected, 30)
            with server.client(box) as c:
                for i, raw in enumerate(raws):
                    await asyncio.sleep(0.05)  # let the source go back to IDLE (pacing, not synchronisation)
                    started = time.perf_counter()
                    await asyncio.to_thread(c.append, "INBOX", None, None, raw)
                    await wait_until(lambda i=i: count_events(settings.store.path) > i, 30)
                    out.append(time.perf_counter() - started)
            await source.stop()
            await task
        finally:
            store.close()
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reports", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--latency", type=int, default=30, help="latency samples")
    args = ap.parse_args()
    logs.configure("error", "json")
    server = Dovecot.start_new()
    try:
        imap, maildir, parse = [], [], []
        work = Path(tempfile.mkdtemp(prefix="bench-parse-"))
        settings, raws = prepare(work, args.reports)
        for r in range(args.rounds):
            i = await imap_round(server, args.reports)
            m = await maildir_round(args.reports)
            p = parse_round(raws, settings)
            imap.append(i)
            maildir.append(m)
            parse.append(p)
            print(f"round {r + 1}: imap {i:.0f} reports/s, maildir {m:.0f} reports/s, parse only {p:.0f} msg/s, "
                  f"imap/parse {i / p:.2f}, maildir/parse {m / p:.2f}", flush=True)
        shutil.rmtree(work, ignore_errors=True)
        lat = await latency_run(server, args.latency)
        lat_ms = sorted(x * 1000 for x in lat)
        print(f"median: imap {statistics.median(imap):.0f} reports/s, maildir {statistics.median(maildir):.0f} reports/s, "
              f"parse only {statistics.median(parse):.0f} msg/s")
        print(f"latency APPEND -> committed event with IDLE ({len(lat_ms)} samples): median {statistics.median(lat_ms):.1f} ms, "
              f"p90 {lat_ms[int(len(lat_ms) * 0.9) - 1]:.1f} ms, max {lat_ms[-1]:.1f} ms")
    finally:
        server.close()


if __name__ == "__main__":
    asyncio.run(main())
