from __future__ import annotations

import pytest

from tests.status.builders import Builder


@pytest.fixture
def store_builder(tmp_path):
    b = Builder(tmp_path / "maild.db")
    yield b
    b.close()


@pytest.fixture(autouse=True)
def _logs_to_current_stderr():
    """structlog keeps the stream it was configured with; a CLI test's captured stderr is closed afterwards."""
    from maild import logs

    logs.configure("warning", "json")
    yield
    logs.configure("warning", "json")
