"""Suite-wide guards: the skip policy (tests/support/skip_policy.py) and, where the servers were installed for us, a
check at start that they really run."""

from __future__ import annotations

import os
import shutil

import pytest
from hypothesis import settings

from tests.support.skip_policy import (  # noqa: F401  (hooks, registered by being in this conftest)
    pytest_make_collect_report,
    pytest_runtest_makereport,
    pytest_terminal_summary,
)


# No per-example deadline: on a loaded 2-core runner (or under mutmut's trampolines) 200 ms is noise, not behaviour.
# Tests whose behaviour is a time limit assert it themselves, with wide margins.
settings.register_profile("maild", deadline=None)
settings.load_profile("maild")


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, object]:
    """Every async test runs on the loop the daemon runs on by default (`daemon.event_loop = "auto"`: uvloop when it
    imports); MAILD_TEST_EVENT_LOOP=asyncio (or uvloop) runs the suite on that one instead."""
    from maild.daemon import loop_factory

    choice = os.environ.get("MAILD_TEST_EVENT_LOOP", "auto")
    return {choice: loop_factory(choice)}


def pytest_sessionstart(session: pytest.Session) -> None:
    # scripts/test sets this when it ran as root and installed the Debian packages: name every missing
    # server at once, before an hour of tests, instead of one failure per test.
    if os.environ.get("MAILD_REQUIRE_SERVERS") != "1":
        return
    from tests.servers.dovecot import available as dovecot_available
    from tests.servers.postfix import postfix_available
    from tests.servers.rt import available as rt_available

    problems = [p for p in (dovecot_available(), postfix_available(), rt_available()) if p]
    problems += [f"{tool} is not installed" for tool in ("systemd-analyze", "openssl", "chromium") if shutil.which(tool) is None]
    if problems:
        raise pytest.UsageError("MAILD_REQUIRE_SERVERS=1 but: " + "; ".join(problems))
