"""Time as maild stores and shows it: aware UTC datetimes, ISO 8601 text with a Z."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    """The current time; only the composition root and command handlers call this (pure code takes `now`)."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """Fixed-width ISO 8601 UTC text, so text order is time order in SQLite."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_iso(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
