"""config/maild.production.toml loads, documents every setting, and names only credentials the unit loads;
${NAME} in path settings expands from the environment."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from maild import config

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = ROOT / "config" / "maild.production.toml"
UNIT = ROOT / "systemd" / "maild.service"
CREDS = "/run/credentials/maild.service"


def keys_by_section(text: str) -> set[str]:
    """'section.key' (or 'receipts[].key') for every active or commented `key = value` line."""
    found, section = set(), ""
    for line in text.splitlines():
        stripped = line.strip()
        if m := re.fullmatch(r"(?:# )?\[\[(\w+)\]\]", stripped):  # a commented-out list table documents its keys too
            section = f"{m.group(1)}[]"
        elif m := re.fullmatch(r"\[(\w+)\]", stripped):
            section = m.group(1)
        elif section and (m := re.match(r"(?:# )?([a-z_]+) = ", stripped)):  # prose comments do not match
            found.add(f"{section}.{m.group(1)}")
    return found


def test_production_example_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", CREDS)
    s = config.load(PRODUCTION)
    assert s.store.path == Path("/var/lib/maild/maild.db")
    assert s.tracking.key_file == Path(CREDS) / "token.key"
    assert s.delivery.password_file == Path(CREDS) / "upstream.password"
    assert [str(r.url) for r in s.receipts] == ["lmtp://127.0.0.1:10024"]


def test_production_example_names_every_setting() -> None:
    documented = keys_by_section(PRODUCTION.read_text())
    missing = [key for key, _default, _help in config.describe() if key not in documented]
    assert missing == [], f"add these to {PRODUCTION.name}: {missing}"


def test_production_example_has_no_unknown_setting() -> None:
    known = {key for key, _default, _help in config.describe()}
    assert keys_by_section(PRODUCTION.read_text()) - known == set()


def test_production_paths_are_absolute_or_credentials() -> None:
    for line in PRODUCTION.read_text().splitlines():
        if m := re.match(r"\s*\w+_file\s*=\s*\"([^\"]+)\"|\s*path\s*=\s*\"([^\"]+)\"", line):
            value = m.group(1) or m.group(2)
            assert value.startswith(("/", "${CREDENTIALS_DIRECTORY}/")), line


def test_every_credential_the_example_uses_is_loaded_by_the_unit() -> None:
    used = set(re.findall(r"^[^#\n]*\$\{CREDENTIALS_DIRECTORY\}/([\w.]+)", PRODUCTION.read_text(), re.M))
    loaded = set(re.findall(r"^LoadCredential=([\w.]+):", UNIT.read_text(), re.M))
    assert used and used <= loaded


def test_check_config_accepts_the_example() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "maild", "check-config", "--json", "--config", str(PRODUCTION)],
        capture_output=True, text=True, timeout=60, check=False, cwd=ROOT,
        env={"CREDENTIALS_DIRECTORY": CREDS, "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert '"password_file": "/run/credentials/maild.service/upstream.password"' in result.stdout


# ------------------------------------------------------------------ ${NAME} in paths


def _key_file(tmp_path: Path, value: str) -> Path:
    toml = tmp_path / "maild.toml"
    toml.write_text(f'[tracking]\nkey_file = "{value}"\n')
    return config.load(toml).tracking.key_file


def test_braced_variable_expands_in_a_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", "/run/credentials/x.service")
    assert _key_file(tmp_path, "${CREDENTIALS_DIRECTORY}/token.key") == Path("/run/credentials/x.service/token.key")


def test_unset_variable_is_left_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    assert _key_file(tmp_path, "${CREDENTIALS_DIRECTORY}/token.key") == tmp_path / "${CREDENTIALS_DIRECTORY}" / "token.key"


def test_empty_variable_is_left_as_written_not_made_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", "")
    assert _key_file(tmp_path, "${CREDENTIALS_DIRECTORY}/token.key") != Path("/token.key")


def test_bare_dollar_is_not_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/x")
    assert _key_file(tmp_path, "$HOME/k") == tmp_path / "$HOME" / "k"


def test_expanded_relative_value_still_resolves_against_the_config_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILD_SUB", "keys")
    assert _key_file(tmp_path, "${MAILD_SUB}/token.key") == tmp_path / "keys" / "token.key"
