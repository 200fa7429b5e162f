"""systemd/maild.service: `systemd-analyze verify` is clean and `security --offline=yes` scores at most 2.0.

Needs systemd-analyze (Debian: `apt-get install systemd`, as root); skipped with that
message when it is absent. verify wants ExecStart's binary to exist, so it checks a
copy of the unit whose ExecStart points at this virtualenv's `maild`.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "systemd" / "maild.service"
SYSUSERS = ROOT / "systemd" / "maild.sysusers"
INSTALLED_MAILD = "/opt/maild/.venv/bin/maild"
MAX_EXPOSURE = 2.0

ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(
    ANALYZE is None, reason="systemd-analyze is not installed (as root: apt-get install -y systemd)"
)


def directives(text: str) -> list[tuple[str, str, str]]:
    """(section, key, value) of every directive, in order; systemd allows a key more than once."""
    out, section = [], ""
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, _, value = line.partition("=")
        out.append((section, key.strip(), value.strip()))
    return out


def values(key: str, section: str = "Service") -> list[str]:
    return [v for s, k, v in directives(UNIT.read_text()) if s == section and k == key]


def unit_copy(tmp_path: Path, text: str | None = None) -> Path:
    """The unit with ExecStart pointing at a binary that exists here."""
    maild = Path(sys.executable).parent / "maild"
    binary = str(maild) if maild.exists() else "/usr/bin/env maild"
    copy = tmp_path / "maild.service"
    copy.write_text((text if text is not None else UNIT.read_text()).replace(INSTALLED_MAILD, binary))
    return copy


def exposure(unit: Path) -> float:
    assert ANALYZE is not None
    result = subprocess.run(
        [ANALYZE, "security", "--offline=yes", "--no-pager", str(unit)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    m = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", result.stdout)
    assert m, f"no exposure line in systemd-analyze output:\n{result.stdout}\n{result.stderr}"
    return float(m.group(1))


# ------------------------------------------------------------------ what the unit must say


def test_unit_runs_maild_with_the_etc_configuration() -> None:
    assert values("ExecStart") == [f"{INSTALLED_MAILD} run --config /etc/maild/maild.toml"]


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("Type", "notify"),
        ("Restart", "on-failure"),
        ("StateDirectory", "maild"),
        ("ConfigurationDirectory", "maild"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("NoNewPrivileges", "yes"),
        ("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6"),
        ("CapabilityBoundingSet", "CAP_NET_BIND_SERVICE"),
        ("User", "maild"),
        ("LimitNOFILE", "65536"),  # the default soft 1024 let ~1,010 idle sessions stop intake and HTTP
    ],
)
def test_unit_sets(key: str, expected: str) -> None:
    assert expected in values(key)


def test_unit_reloads_with_sighup_and_has_a_watchdog() -> None:
    assert values("ExecReload") == ["/bin/kill -HUP $MAINPID"]
    assert values("WatchdogSec") and values("WatchdogSec")[0] != "0"


def test_unit_filters_system_calls_to_the_service_set() -> None:
    assert "@system-service" in values("SystemCallFilter")


def test_unit_loads_the_token_key_as_a_credential() -> None:
    assert "token.key:/etc/maild/credentials/token.key" in values("LoadCredential")


def test_sysusers_entry_creates_the_user_the_unit_runs_as() -> None:
    entries = [ln.split() for ln in SYSUSERS.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    assert [e[:2] for e in entries] == [["u", values("User")[0]]]


# ------------------------------------------------------------------ systemd's own checks


@needs_analyze
def test_systemd_analyze_verify_is_clean(tmp_path: Path) -> None:
    assert ANALYZE is not None
    unit = unit_copy(tmp_path)
    result = subprocess.run(
        [ANALYZE, "verify", "--no-pager", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )
    about_us = [ln for ln in (result.stdout + result.stderr).splitlines() if "maild.service" in ln]
    assert result.returncode == 0, result.stderr
    assert about_us == []  # unknown keys only warn (exit 0), so the warnings are checked too


@needs_analyze
def test_verify_would_catch_a_misspelt_directive(tmp_path: Path) -> None:
    assert ANALYZE is not None
    unit = unit_copy(tmp_path, UNIT.read_text().replace("NoNewPrivileges=", "NoNewPrivilegez="))
    result = subprocess.run(
        [ANALYZE, "verify", "--no-pager", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )
    assert "NoNewPrivilegez" in result.stderr


@needs_analyze
def test_security_exposure_is_at_most_two(tmp_path: Path) -> None:
    score = exposure(unit_copy(tmp_path))
    assert score <= MAX_EXPOSURE, f"exposure {score} > {MAX_EXPOSURE}: run systemd-analyze security --offline=yes"


@needs_analyze
def test_an_unhardened_unit_scores_above_the_limit(tmp_path: Path) -> None:
    plain = "[Service]\nType=notify\nExecStart=/opt/maild/.venv/bin/maild run --config /etc/maild/maild.toml\n"
    assert exposure(unit_copy(tmp_path, plain)) > MAX_EXPOSURE


@pytest.mark.skipif(shutil.which("systemd-sysusers") is None, reason="systemd-sysusers is not installed")
def test_sysusers_entry_parses(tmp_path: Path) -> None:
    result = subprocess.run(
        ["systemd-sysusers", "--dry-run", str(SYSUSERS)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "ignoring" not in result.stderr.lower() and "syntax" not in result.stderr.lower()
