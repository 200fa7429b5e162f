"""End-to-end fixtures: the session's private Dovecot and a private upstream Postfix delivering into it."""

from tests.servers.fixtures import dovecot, request_tracker  # noqa: F401
from tests.servers.postfix_upstream import postfix_upstream  # noqa: F401
