"""Maildir receipts source: scan a local Maildir, ingest each message, then move it to the processed or quarantine folder.

New files are noticed within about a second (`maild.fswatch`: inotify where
the platform has it, else a look at the folders every second), which wakes
the runner; the full scan every `poll_interval` stays as the safety net.
Folders are Maildir++ subfolders (`PATH/.processed`, `PATH/.quarantine`),
created with the Maildir when missing. A file leaves `new/` (or `cur/`) only
after its outcome is committed, so a crash in between means the next scan
sees it again and records nothing twice.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from maild import clock as clockmod
from maild import logs
from maild.config import ReceiptSource
from maild.fswatch import FolderWatch
from maild.receipts.ingest import IngestOutcome
from maild.receipts.port import ReportIngestor
from maild.receipts.quarantine import raw_limit
from maild.receipts.runner import Runner
from maild.store import StorePort

log = logs.get("receipts.maildir")

MAX_BACKOFF = 60.0
WATCH_POLL = 1.0  # without inotify, the folders' mtimes are looked at this often


def ensure_maildir(path: Path) -> None:
    for sub in ("new", "cur", "tmp"):
        (path / sub).mkdir(parents=True, exist_ok=True)


def folder_path(root: Path, folder: str) -> Path:
    """A Maildir++ subfolder: `processed` is ROOT/.processed (dots separate levels)."""
    return root / ("." + folder.strip(".").replace("/", "."))


def pending(root: Path, limit: int) -> list[Path]:
    """Files waiting in new/ and cur/ of the root folder, oldest name first (Maildir names start with a time)."""
    found: list[Path] = []
    for sub in ("new", "cur"):
        try:
            with os.scandir(root / sub) as entries:
                found.extend(Path(e.path) for e in entries if e.is_file() and not e.name.startswith("."))
        except FileNotFoundError:
            continue
    found.sort(key=lambda p: p.name)
    return found[:limit]


def move_to(path: Path, folder: Path) -> Path:
    """Rename into FOLDER/cur with the seen flag; the file keeps its unique base name."""
    name = path.name if ":2," in path.name else path.name + ":2,S"
    target = folder / "cur" / name
    os.rename(path, target)
    return target


class MaildirSource(Runner):
    """Polls one Maildir; `run()` until `stop()`."""

    first_backoff = 0.5
    max_backoff = MAX_BACKOFF
    backoff_offset = 1  # a failed scan waits at least a second before the next

    def __init__(
        self, settings: ReceiptSource, ingestor: ReportIngestor, store: StorePort, clock: Callable[[], datetime] = clockmod.now,
    ) -> None:
        url = settings.url
        assert url.path is not None
        super().__init__(url.display())
        self.settings = settings
        self.ingestor = ingestor
        self.store = store
        self.clock = clock
        self.root = url.path
        self.processed = folder_path(self.root, settings.processed_folder)
        self.quarantine = folder_path(self.root, settings.quarantine_folder)
        self.watch = FolderWatch([self.root / "new", self.root / "cur"], self.wake, poll=WATCH_POLL)

    async def round(self) -> float:
        """Scan batches until none is left; the next round comes after poll_interval, or at once on wake()."""
        if not self.stats.connected:
            await asyncio.to_thread(self._prepare)
            self.stats.connected = True
            self.stats.sessions += 1
            watch = self.watch.mode if self.watch.mode != "off" else self.watch.start()
            log.info("maildir_source_ready", source=self.name, watch=watch)
        while await self.scan_once() and not self.stopping:
            pass
        return self.settings.poll_interval

    async def stopped(self) -> None:
        self.watch.close()

    def log_failure(self, error: Exception, retry_in: float) -> None:
        # a full disk or a locked store: back off and try again
        log.warning("maildir_scan_failed", source=self.name, error=f"{type(error).__name__}: {error}", retry_in=round(retry_in, 2))

    def _prepare(self) -> None:
        for folder in (self.root, self.processed, self.quarantine):
            ensure_maildir(folder)

    async def scan_once(self) -> int:
        """Ingest one batch of waiting files; returns how many were handled (moved)."""
        files = await asyncio.to_thread(pending, self.root, self.settings.batch_size)
        if not files:
            return 0
        results = await asyncio.gather(*(self._one(p) for p in files), return_exceptions=True)
        moves: list[tuple[Path, Path]] = []
        first_error: BaseException | None = None
        for path, outcome in zip(files, results, strict=True):
            if isinstance(outcome, BaseException):
                first_error = first_error or outcome
                continue
            if outcome is not None:
                moves.append((path, self.quarantine if outcome.quarantined else self.processed))
        moved = await asyncio.to_thread(self._move_all, moves)
        if first_error is not None:
            raise first_error
        return moved

    async def _one(self, path: Path) -> IngestOutcome | None:
        try:
            raw = await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:  # taken by someone else meanwhile
            return None
        outcome: IngestOutcome = await self.ingestor.ingest(
            raw, "maildir", path.name, max_raw=raw_limit(self.settings.quarantine_max_bytes)
        )
        return outcome

    def _move_all(self, moves: list[tuple[Path, Path]]) -> int:
        done = 0
        for path, folder in moves:
            try:
                move_to(path, folder)
                done += 1
            except FileNotFoundError:
                continue
        return done
