"""Schema of the receipts ingest (migration 2): IMAP positions, processed reports, the quarantine."""

from __future__ import annotations

import sqlite_utils


def migrate(db: sqlite_utils.Database) -> None:
    """Filled in by the ingest work."""
