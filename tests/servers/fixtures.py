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
