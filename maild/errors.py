"""The exception tree: every error maild raises on purpose, split by what the caller should do."""

from __future__ import annotations

from pathlib import Path


class MaildError(Exception):
    """Base of every error maild raises on purpose."""


class ConfigError(MaildError):
    """The configuration is invalid; names the file, the key path and what was expected."""

    def __init__(self, source: Path | str, key: str, problem: str) -> None:
        self.source = Path(source)
        self.key = key
        self.problem = problem
        where = f"{self.source}: {key}: " if key else f"{self.source}: "
        super().__init__(where + problem)


class TransientError(MaildError):
    """Try again later: a lock, a dropped connection, a 4xx reply."""


class StoreBusy(TransientError):
    """The database is locked by another writer beyond the busy timeout."""


class StoreError(MaildError):
    """The database failed in a way a retry will not fix (corrupt, full disk, newer schema)."""


class KeyFileError(MaildError):
    """The token key file is missing, unreadable or malformed."""
