"""`maild events --follow` as a real process, and the views readable by another process while maild writes."""

from __future__ import annotations

import asyncio
import json
import os
import selectors
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from maild import departments
from maild.store import Store
from tests.support.builders import Builder, at

REPO = Path(__file__).resolve().parents[2]


def read_line(proc: subprocess.Popen, timeout: float = 15.0) -> str:
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sel.select(timeout=0.1):
            return proc.stdout.readline()
    raise AssertionError("no line before the deadline")


def test_events_follow_prints_new_events_as_they_come(tmp_path) -> None:
    (tmp_path / "maild.toml").write_text('[store]\npath = "maild.db"\n')
    b = Builder(tmp_path / "maild.db")
    r = b.reply("3", [("a@example.net", "to")])
    proc = subprocess.Popen(
        [sys.executable, "-m", "maild", "events", "--follow", "--json", "--poll", "0.05",
         "--config", str(tmp_path / "maild.toml")],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert json.loads(read_line(proc))["kind"] == "queued"
        b.event(r, "a@example.net", "accepted", 1)
        assert json.loads(read_line(proc))["kind"] == "accepted"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()
        b.close()


async def test_views_are_readable_while_maild_writes(tmp_path) -> None:
    b = Builder(tmp_path / "maild.db")
    r = b.reply("4", [("a@example.net", "to")])
    b.event(r, "a@example.net", "accepted", 1)
    b.close()
    store = Store(tmp_path / "maild.db")
    await asyncio.to_thread(store.open)
    try:
        reader = sqlite3.connect(f"file:{tmp_path / 'maild.db'}?mode=ro", uri=True, timeout=0.1)
        reader.execute("BEGIN")
        before = reader.execute("SELECT state FROM reply_status WHERE ticket = '4'").fetchone()
        await store.write(lambda db: departments.set_receipts(db, "Billing", False, at(5)))  # commits under the reader
        after_in_snapshot = reader.execute("SELECT state FROM reply_status WHERE ticket = '4'").fetchone()
        reader.execute("COMMIT")
        fresh = reader.execute("SELECT receipts_enabled FROM reply_status WHERE ticket = '4'").fetchone()
        reader.close()
    finally:
        await asyncio.to_thread(store.close)
    assert before == after_in_snapshot == ("delivered",)
    assert fresh == (0,)
