"""Maildir inbound source: read the header blocks of new files in a helpdesk's Maildir, never writing to it.

Files in `new/` and `cur/` are looked at once each, known by their unique
base name (the part before `:2,`, which a mail client keeps when it moves a
file to `cur/` or changes its flags). The names looked at are kept in
`inbound_seen`, in the transaction that records what the files said, so a
restart neither misses nor doubles anything; a file that vanished before it
could be read (the helpdesk moved it) is looked for again at the next scan
under its new name. Only the header block is read (at most
`maild.inbound.headers.MAX_HEADER_BYTES`). New files are noticed within about
a second (`maild.fswatch`: inotify, else a short poll).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from maild import clock as clockmod
from maild import logs
from maild.clock import iso
from maild.config import InboundSource
from maild.fswatch import FolderWatch
from maild.inbound.headers import MAX_HEADER_BYTES, InboundHeaders, read_headers
from maild.inbound.imap import InboundStats
from maild.inbound.match import Recorded, Verdict, record_answer
from maild.receipts.runner import Runner

log = logs.get("inbound.maildir")

RESCAN = 60.0  # a full rescan this often even when the watch reports nothing (a lost notification)


def base_name(file_name: str) -> str:
    """A Maildir file's unique part: `1700000000.M1P2.host:2,S` -> `1700000000.M1P2.host`."""
    return file_name.split(":2,", 1)[0].split(":1,", 1)[0]


def listing(root: Path) -> list[tuple[str, Path]]:
    """(base name, path) of every message file in new/ and cur/, oldest name first."""
    found: list[tuple[str, Path]] = []
    for sub in ("new", "cur"):
        try:
            with os.scandir(root / sub) as entries:
                found.extend((base_name(e.name), Path(e.path)) for e in entries if not e.name.startswith(".") and e.is_file())
        except FileNotFoundError:
            continue
    found.sort()
    return found


def read_head(path: Path) -> bytes | None:
    """The first MAX_HEADER_BYTES of a file (enough for its header block), or None when it is gone."""
    try:
        with open(path, "rb") as fh:
            return fh.read(MAX_HEADER_BYTES)
    except FileNotFoundError:
        return None


def seen_names(db: sqlite_utils.Database, source: str) -> set[str]:
    return {row[0] for row in db.execute("SELECT name FROM inbound_seen WHERE source = ?", (source,))}


def record_files(
    db: sqlite_utils.Database, answers: list[tuple[str, InboundHeaders]], *, source: str, now: datetime
) -> list[Recorded]:
    """Record the answers of a batch of files and mark their names seen, in one transaction (run in the writer)."""
    out = [record_answer(db, h, source=source, via="maildir", ref=name, now=now) for name, h in answers]
    db.conn.executemany(
        "INSERT INTO inbound_seen (source, name, seen_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        [(source, name, iso(now)) for name, _ in answers],
    )
    return out


class InboundMaildirSource(Runner):
    """Watches one Maildir read-only; `run()` until `stop()` (a runner: a failed round is retried with backoff)."""

    first_backoff = 0.5
    max_backoff = 60.0

    def __init__(self, settings: InboundSource, store: Any, clock: Callable[[], datetime] = clockmod.now) -> None:
        url = settings.url
        assert url.path is not None
        super().__init__("inbound " + url.display())
        self.settings = settings
        self.store = store
        self.clock = clock
        self.root = url.path
        self.counts = InboundStats()
        self.watch = FolderWatch([self.root / "new", self.root / "cur"], self.wake, poll=settings.poll_interval)
        self.scans = 0  # scans done (tests: the first one is over)
        self._seen: set[str] | None = None

    @property
    def watch_mode(self) -> str:
        return self.watch.mode

    async def round(self) -> float:
        """Look at every file not seen yet; the next round after RESCAN, or at once when the watch wakes it."""
        if not self.stats.connected:
            await self._prepare()
        while await self.scan_once() and not self.stopping:
            pass
        return RESCAN

    def log_failure(self, error: Exception, retry_in: float) -> None:
        # a missing folder, a locked store: back off and try again
        log.warning("inbound_maildir_failed", source=self.name, error=f"{type(error).__name__}: {error}",
                    retry_in=round(retry_in, 2))

    async def stopped(self) -> None:
        self.watch.close()

    async def _prepare(self) -> None:
        for sub in ("new", "cur"):
            if not await asyncio.to_thread((self.root / sub).is_dir):
                raise FileNotFoundError(f"{self.root / sub} is not a folder (maild never creates one in an inbound Maildir)")
        self._seen = await self.store.read(lambda db: seen_names(db, self.name))
        if self.watch.mode == "off":
            self.watch.start()
        self.stats.connected = True
        self.stats.sessions += 1
        log.info("inbound_maildir_ready", source=self.name, watch=self.watch.mode, seen=len(self._seen))

    async def scan_once(self) -> int:
        """Look at one batch of files not seen yet; returns how many."""
        assert self._seen is not None
        seen = self._seen
        files = await asyncio.to_thread(listing, self.root)
        self.scans += 1
        fresh = [(name, path) for name, path in files if name not in seen][: self.settings.batch_size]
        if not fresh:
            return 0
        answers = await asyncio.to_thread(self._read_all, fresh)
        if not answers:
            return 0
        now = self.clock()
        recorded = await self.store.write(lambda db: record_files(db, answers, source=self.name, now=now))
        for (name, _), r in zip(answers, recorded, strict=True):
            seen.add(name)
            self.counts.count(r)
            if r.decision.verdict is not Verdict.NOT_OURS:
                log.info("inbound_answer", source=self.name, file=name, verdict=str(r.decision.verdict),
                         events=r.events, duplicate=r.duplicate, matched_by=r.decision.matched_by, why=r.decision.why)
        return len(answers)

    def _read_all(self, fresh: list[tuple[str, Path]]) -> list[tuple[str, InboundHeaders]]:
        out: list[tuple[str, InboundHeaders]] = []
        for name, path in fresh:
            head = read_head(path)
            if head is None:
                continue  # moved meanwhile: seen again under its new name at the next scan
            try:
                out.append((name, read_headers(head)))
            except Exception as exc:  # noqa: BLE001 - hostile bytes: logged, counted, marked seen as nothing
                self.counts.unreadable += 1
                log.warning("inbound_unreadable", source=self.name, file=name, error=f"{type(exc).__name__}: {exc}"[:200])
                out.append((name, read_headers(b"")))
        return out
