"""Time as maild stores and shows it: aware UTC datetimes, ISO 8601 text with a Z."""

from __future__ import annotations

from datetime import UTC, datetime

from maild.core.times import iso, parse_iso

__all__ = ["iso", "now", "parse_iso"]


def now() -> datetime:
    """The current time; only the composition root and command handlers call this (pure code takes `now`)."""
    return datetime.now(UTC)
