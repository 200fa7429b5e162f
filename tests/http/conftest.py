"""Fixtures of this package: a database with builders, logs on the current stderr, and `maild run` as a process."""

from tests.daemon.conftest import maild, sink  # noqa: F401  (the live API tests run the real daemon)
from tests.support.fixtures import _logs_to_current_stderr, store_builder  # noqa: F401
