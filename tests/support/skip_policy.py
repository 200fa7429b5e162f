"""The suite's skip policy, in one place: where the run must be complete, a skipped test is a failure naming what is missing.

A test that cannot run here (no Postfix, Dovecot, corpus, browser, helpdesk...) calls `pytest.skip`
with a reason that names the missing thing. Whether that skip is allowed is decided here alone:

* strict, when `CI=true` (the CI command) or `MAILD_REQUIRE_SERVERS=1` (set by scripts/test once it
  installed the servers): every skip becomes a failure whose message says what is missing, so a
  runner without a server or without ../shared/corpus can never pass by running less;
* otherwise (a developer's partial run) skips stay skips, and the run ends with one summary line
  counting them by reason.

Expected failures (xfail) are not skips and are left alone. The hooks are imported into
tests/conftest.py; tests/support/test_skip_policy.py runs them in child pytest processes.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Generator
from typing import Any

import pytest

STRICT_HINT = "(CI=true or MAILD_REQUIRE_SERVERS=1: the run must be complete; install what is missing)"


def strict() -> bool:
    """True where the run must not skip: CI, or a scripts/test run that installed the servers."""
    return os.environ.get("CI", "").lower() == "true" or os.environ.get("MAILD_REQUIRE_SERVERS") == "1"


def _reason(longrepr: Any) -> str:
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        text = str(longrepr[2])
    else:
        text = str(longrepr)
    return text.removeprefix("Skipped: ").strip()


_SKIPPED = pytest.StashKey[Counter[str]]()


def _judge(config: pytest.Config, report: pytest.TestReport | pytest.CollectReport) -> None:
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = _reason(report.longrepr)
    if strict():
        report.outcome = "failed"
        report.longrepr = f"missing: {reason}\n{STRICT_HINT}"
    else:
        config.stash.setdefault(_SKIPPED, Counter())[reason] += 1


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    _judge(item.config, outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, Any, None]:
    outcome = yield
    _judge(collector.config, outcome.get_result())


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    skipped = config.stash.get(_SKIPPED, Counter())
    if not skipped:
        return
    total = sum(skipped.values())
    parts = "; ".join(f"{n} x {reason}" for reason, n in skipped.most_common())
    terminalreporter.write_line(f"maild: partial run, {total} tests skipped for what is missing here: {parts}", yellow=True)
