"""Pytest fixtures shared by several test packages; a package's conftest.py imports the ones it uses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.builders import Builder


@pytest.fixture
def store_builder(tmp_path: Path) -> Iterator[Builder]:
    """A migrated database file with builders for messages, recipients and events (status, CLI, HTTP, webhooks)."""
    b = Builder(tmp_path / "maild.db")
    yield b
    b.close()


@pytest.fixture(autouse=True)
def _logs_to_current_stderr() -> Iterator[None]:
    """structlog keeps the stream it was configured with; a CLI test's captured stderr is closed afterwards."""
    from maild import logs

    logs.configure("warning", "json")
    yield
    logs.configure("warning", "json")
