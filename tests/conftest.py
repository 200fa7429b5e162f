"""Suite-wide guard: where the real servers were installed for us, their absence is a failure, not a skip."""

from __future__ import annotations

import os
import shutil

import pytest


def pytest_sessionstart(session: pytest.Session) -> None:
    # scripts/test sets this when it ran as root and installed the Debian packages: from then on a
    # missing Postfix, Dovecot or systemd-analyze would silently skip the integration tests.
    if os.environ.get("MAILD_REQUIRE_SERVERS") != "1":
        return
    from tests.servers.dovecot import available as dovecot_available
    from tests.servers.postfix import postfix_available
    from tests.servers.rt import available as rt_available

    problems = [p for p in (dovecot_available(), postfix_available(), rt_available()) if p]
    problems += [f"{tool} is not installed" for tool in ("systemd-analyze", "openssl", "chromium") if shutil.which(tool) is None]
    if problems:
        raise pytest.UsageError("MAILD_REQUIRE_SERVERS=1 but: " + "; ".join(problems))
