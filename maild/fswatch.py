"""Folder watching for Maildir sources: inotify on Linux (through libc), a short poll of the folders' mtimes elsewhere.

`FolderWatch(paths, on_change)` calls `on_change()` on the event loop soon
after a file is created in or moved into one of the folders (a Maildir's
`new/` and `cur/`), so a Maildir source notices a newcomer within about a
second instead of at its next full scan. The watch only wakes the source: the
source still scans, so a missed or coalesced notification delays nothing
beyond the fallback interval. Watching never fails the source: without
inotify (another platform, no libc, the per-user watch limit reached) it
falls back to polling the folders' modification times every `poll` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from maild import logs

log = logs.get("fswatch")

IN_CLOSE_WRITE = 0x00000008
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC
_MASK = IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.inotify_init1.argtypes = [ctypes.c_int]
        libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        return libc
    except (OSError, AttributeError):
        return None


class FolderWatch:
    """Calls `on_change` when something lands in one of `paths`; `start()` on the loop, `close()` when done."""

    def __init__(self, paths: Sequence[Path], on_change: Callable[[], None], *, poll: float = 1.0) -> None:
        self.paths = list(paths)
        self.on_change = on_change
        self.poll = poll
        self.mode = "off"  # inotify, poll
        self._fd: int | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> str:
        """Start watching; returns the mode it got: `inotify` or `poll`."""
        fd = self._inotify()
        if fd is not None:
            self._fd = fd
            asyncio.get_running_loop().add_reader(fd, self._readable)
            self.mode = "inotify"
        else:
            self._task = asyncio.get_running_loop().create_task(self._poll_loop())
            self.mode = "poll"
        return self.mode

    def _inotify(self) -> int | None:
        libc = _libc()
        if libc is None:
            return None
        fd = int(libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC))
        if fd < 0:
            log.warning("inotify_unavailable", error=os.strerror(ctypes.get_errno()), fallback_poll=self.poll)
            return None
        for path in self.paths:
            if libc.inotify_add_watch(fd, os.fsencode(path), _MASK) < 0:
                log.warning("inotify_watch_failed", path=str(path), error=os.strerror(ctypes.get_errno()),
                            fallback_poll=self.poll)
                os.close(fd)
                return None
        return fd

    def _readable(self) -> None:
        assert self._fd is not None
        try:
            while os.read(self._fd, 65536):
                pass
        except BlockingIOError:
            pass
        except OSError as exc:
            log.warning("inotify_read_failed", error=str(exc))
        self.on_change()

    def _stamps(self) -> list[tuple[int, int]]:
        out = []
        for path in self.paths:
            try:
                st = os.stat(path)
                out.append((st.st_mtime_ns, st.st_nlink))
            except OSError:
                out.append((0, 0))
        return out

    async def _poll_loop(self) -> None:
        last = await asyncio.to_thread(self._stamps)
        while True:
            await asyncio.sleep(self.poll)
            now = await asyncio.to_thread(self._stamps)
            if now != last:
                last = now
                self.on_change()

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(RuntimeError, ValueError):
                asyncio.get_running_loop().remove_reader(self._fd)
            os.close(self._fd)
            self._fd = None
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self.mode = "off"
