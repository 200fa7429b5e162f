"""Session-scoped pytest fixtures for the private servers; import them into a conftest.py:

    from tests.servers.fixtures import dovecot, dovecot_user  # noqa: F401
"""

from __future__ import annotations

import pytest

from tests.servers.dovecot import Dovecot, Mailbox, available


@pytest.fixture(scope="session")
def dovecot():
    """One private Dovecot for the session (skipped with the reason when it cannot run here), always stopped."""
    why = available()
    if why:
        pytest.skip(f"private Dovecot unavailable: {why}")
    server = Dovecot.start_new()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def dovecot_user(dovecot: Dovecot) -> Mailbox:
    """A fresh, empty mailbox on the session's Dovecot, so tests never see each other's mail."""
    return dovecot.add_user()


@pytest.fixture
def request_tracker(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):
    """A private RT on 127.0.0.1 whose mail goes through maild-sendmail with the test's maild.toml.

    Use with `maild_config_for_rt` (the test's maild configuration path) set by indirect parametrisation or a
    fixture named `rt_sendmail` returning the sendmail command. Skipped with the reason when RT cannot run here;
    where scripts/test installed it (MAILD_REQUIRE_SERVERS=1), tests/conftest.py fails the run instead.
    """
    from tests.servers.rt import RequestTracker, available

    why = available()
    if why:
        pytest.skip(f"private Request Tracker unavailable: {why}")
    sendmail = request.getfixturevalue("rt_sendmail")
    server = RequestTracker.start_new(tmp_path_factory.mktemp("rt"), sendmail=sendmail)
    try:
        yield server
    finally:
        server.close()
