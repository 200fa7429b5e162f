"""Commands on a broken or locked database say so in one line; never a traceback."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

COMMANDS = [
    ["status", "1", "--json"],
    ["queue", "list"],
    ["departments", "list"],
    ["departments", "disable", "Billing"],
    ["events", "--json"],
    ["quarantine", "list"],
    ["purge", "--older-than", "1d"],
    ["forget", "a@example.net"],
]


def run(args, config):
    return subprocess.run(
        [sys.executable, "-m", "maild", *args, "--config", str(config)], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(a) for a in COMMANDS])
def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path, args):
    (tmp_path / "x.db").write_bytes(b"this is not an SQLite database, just text " * 20)
    config = tmp_path / "maild.toml"
    config.write_text('[store]\npath = "x.db"\n')
    done = run(args, config)
    assert done.returncode == 1
    assert "not a database" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""


def test_a_locked_database_is_a_clear_error(tmp_path):
    config = tmp_path / "maild.toml"
    config.write_text('[store]\npath = "x.db"\nbusy_timeout = "0.2s"\n')
    assert run(["departments", "list"], config).returncode == 0  # creates and migrates
    holder = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        done = run(["departments", "disable", "Billing"], config)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert done.returncode != 0
    assert "locked" in done.stderr and "Traceback" not in done.stderr


def test_an_unwritable_store_folder_is_a_clear_error(tmp_path):
    config = tmp_path / "maild.toml"
    (tmp_path / "file").write_text("")
    config.write_text('[store]\npath = "file/sub/x.db"\n')
    done = run(["queue", "list"], config)
    assert done.returncode == 1 and "cannot open database" in done.stderr and "Traceback" not in done.stderr
