"""The skip policy (tests/support/skip_policy.py): under CI a missing server or corpus fails the run naming it; a
developer's partial run skips with one summary line. Each case runs a child pytest with its own environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# A child pytest starts its plugins (Playwright, Hypothesis, asyncio) before it runs anything: 44 s each on the loaded
# 2-core runner (two of them in one test), against 120 s before. The bounds are for a child that hangs, not a slow one.
CHILD_TIMEOUT = 400
pytestmark = pytest.mark.timeout(900)

CONFTEST = "from tests.support.skip_policy import pytest_make_collect_report, pytest_runtest_makereport, pytest_terminal_summary  # noqa: F401\n"
CASES = """
import pytest

def test_runs():
    assert True

def test_needs_dovecot():
    pytest.skip("private Dovecot unavailable: dovecot is not installed")

@pytest.mark.skipif(True, reason="systemd-analyze is not installed")
def test_needs_analyze():
    pass

@pytest.mark.xfail(reason="known", strict=True)
def test_expected_failure():
    assert False
"""


def child(tmp_path: Path, env: dict[str, str], *args: str, files: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    for name, text in (files or {"conftest.py": CONFTEST, "test_cases.py": CASES}).items():
        (tmp_path / name).write_text(text)
    clean = {k: v for k, v in os.environ.items() if k not in ("CI", "MAILD_REQUIRE_SERVERS", "PYTEST_ADDOPTS")}
    clean["PYTHONPATH"] = str(REPO)
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfE", *args],
        cwd=tmp_path, env=clean, capture_output=True, text=True, timeout=CHILD_TIMEOUT,
    )


@pytest.mark.parametrize("env", [{"CI": "true"}, {"MAILD_REQUIRE_SERVERS": "1"}], ids=str)
def test_where_the_run_must_be_complete_every_skip_fails_naming_what_is_missing(tmp_path: Path, env: dict[str, str]) -> None:
    run = child(tmp_path, env)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "missing: private Dovecot unavailable: dovecot is not installed" in run.stdout
    assert "missing: systemd-analyze is not installed" in run.stdout
    assert "1 passed" in run.stdout and "1 xfailed" in run.stdout, run.stdout  # xfail is not a skip
    assert "skipped" not in run.stdout.splitlines()[-1]


def test_a_developers_partial_run_skips_with_one_summary_line(tmp_path: Path) -> None:
    run = child(tmp_path, {"CI": "false"})
    assert run.returncode == 0, run.stdout + run.stderr
    summary = [line for line in run.stdout.splitlines() if line.startswith("maild: partial run")]
    assert summary == [
        "maild: partial run, 2 tests skipped for what is missing here: "
        "1 x private Dovecot unavailable: dovecot is not installed; 1 x systemd-analyze is not installed"
    ], run.stdout
    assert "1 passed, 2 skipped, 1 xfailed" in run.stdout


def test_a_module_skipped_at_collection_fails_too_under_ci(tmp_path: Path) -> None:
    files = {"conftest.py": CONFTEST, "test_browser.py": 'import pytest\npytest.importorskip("no_such_browser_driver_here")\n'}
    partial = child(tmp_path, {}, files=files)
    assert partial.returncode == 5 and "maild: partial run, 1 tests skipped" in partial.stdout, partial.stdout  # 5: none ran
    run = child(tmp_path, {"CI": "true"}, files=files)
    assert run.returncode != 0 and "missing: could not import 'no_such_browser_driver_here'" in run.stdout, run.stdout


def test_the_real_corpus_tests_fail_under_ci_when_the_corpus_is_absent(tmp_path: Path) -> None:
    """The issue's reproduction: `CI=true MAILD_CORPUS=/nonexistent pytest` passed before the policy."""
    env = dict(os.environ, CI="true", MAILD_CORPUS=str(tmp_path / "nonexistent"), PYTHONPATH=str(REPO))
    env.pop("MAILD_REQUIRE_SERVERS", None)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/reports/test_postfix_dsn.py", "-x"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"missing: bounce corpus not found at {tmp_path / 'nonexistent'}" in run.stdout
