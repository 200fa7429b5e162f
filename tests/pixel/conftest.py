"""Fixtures for the pixel tests: the receipts tests' database and store."""

from __future__ import annotations

from tests.receipts.conftest import _logs_to_current_stderr, db, db_path, store  # noqa: F401 - fixtures
