"""Schema of the helpdesk-facing side (migration 3): views, webhook delivery, erasure counts."""

from __future__ import annotations

import sqlite_utils


def migrate(db: sqlite_utils.Database) -> None:
    """Filled in by the status work."""
