"""The one way maild creates a secret file (token keys, the API token): 0600 from the first byte, durable."""

from __future__ import annotations

import os
from pathlib import Path


def create_secret_file(path: Path, text: str) -> bool:
    """Write `text` to a new file readable by its owner only; False (nothing written) when it exists already.

    O_EXCL makes two processes racing on a first start agree: the loser reads the winner's file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    return True
