"""Maildir receipts source: scan a local Maildir, ingest each message, then move it to the processed or quarantine folder.

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
from typing import Any

from maild import clock as clockmod
from maild import logs
from maild.config import ReceiptSource
from maild.core.backoff import backoff, half_jitter
from maild.receipts.ingest import IngestOutcome
from maild.receipts.quarantine import raw_limit

log = logs.get("receipts.maildir")

MAX_BACKOFF = 60.0


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


class MaildirSource:
    """Polls one Maildir; `run()` until `stop()`."""

    def __init__(
        self, settings: ReceiptSource, ingestor: Any, store: Any, clock: Callable[[], datetime] = clockmod.now,
        *, base_dir: Path | None = None,
    ) -> None:
        url = settings.url
        assert url.path is not None
        self.settings = settings
        self.ingestor = ingestor
        self.store = store
        self.clock = clock
        self.root = url.path
        self.name = url.display()
        self.processed = folder_path(self.root, settings.processed_folder)
        self.quarantine = folder_path(self.root, settings.quarantine_folder)
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._ready = False

    @property
    def connected(self) -> bool:
        return self._ready

    def wake(self) -> None:
        """Scan now instead of at the next interval (tests, and a future inotify hook)."""
        self._wake.set()

    async def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    async def run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                if not self._ready:
                    await asyncio.to_thread(self._prepare)
                    self._ready = True
                    log.info("maildir_source_ready", source=self.name)
                while await self.scan_once() and not self._stop.is_set():
                    pass
                failures = 0
                delay = self.settings.poll_interval
            except Exception as exc:  # noqa: BLE001 - a full disk or a locked store: back off and try again
                failures += 1
                delay = backoff(failures + 1, 0.5, MAX_BACKOFF, jitter=half_jitter)
                log.warning("maildir_scan_failed", source=self.name, error=f"{type(exc).__name__}: {exc}", retry_in=round(delay, 2))
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), delay)
            except TimeoutError:
                pass

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
        return await self.ingestor.ingest(raw, "maildir", path.name, max_raw=raw_limit(self.settings.quarantine_max_bytes))

    def _move_all(self, moves: list[tuple[Path, Path]]) -> int:
        done = 0
        for path, folder in moves:
            try:
                move_to(path, folder)
                done += 1
            except FileNotFoundError:
                continue
        return done
