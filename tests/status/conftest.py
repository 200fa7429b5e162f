"""Fixtures of this package: a database with builders, and logs on the current stderr."""

from tests.support.fixtures import _logs_to_current_stderr, store_builder  # noqa: F401
