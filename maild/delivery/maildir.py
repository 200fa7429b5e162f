"""The maildir: transport: each copy written atomically (tmp/, fsync, rename into new/) with its envelope in headers.

The envelope goes into the file as prepended headers: one `X-Maild-Envelope-From`
and one `X-Maild-Envelope-To` per recipient, before the copy's own bytes, which
follow unchanged. Blocking file I/O: call these in a thread.
"""

from __future__ import annotations

import itertools
import os
import socket
import time
from pathlib import Path

from maild import rewrite

_counter = itertools.count()


def ensure(path: Path) -> None:
    for sub in ("tmp", "new", "cur"):
        (path / sub).mkdir(parents=True, exist_ok=True)


def envelope_headers(sender: str, recipients: tuple[str, ...]) -> list[tuple[str, str]]:
    return [("X-Maild-Envelope-From", f"<{sender}>"), *(("X-Maild-Envelope-To", f"<{r}>") for r in recipients)]


def deliver(path: Path, sender: str, recipients: tuple[str, ...], data: bytes) -> str:
    """Write one copy; returns the file name under new/. Raises OSError."""
    now = time.time()
    name = f"{int(now)}.M{int(now % 1 * 1e6)}P{os.getpid()}Q{next(_counter)}.{socket.gethostname().replace('/', '_')}"
    head = rewrite.prepend(data[:2000], envelope_headers(sender, recipients))
    tmp = path / "tmp" / name
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(head)
            fh.write(data[2000:])
            fh.flush()
            os.fsync(fh.fileno())
        os.rename(tmp, path / "new" / name)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path / "new", os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return name
