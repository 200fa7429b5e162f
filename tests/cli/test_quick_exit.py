"""`maild parse` and `maild ingest` end their process without the interpreter's teardown, and still do what their exit shows."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1].parent
REPORTS = sorted((REPO / "tests" / "data" / "reports").glob("*.eml"))

# The console script's own main() (argv from sys.argv), with an exit handler, and os._exit saying when it is called.
PROBE = """
import atexit, os, sys
from maild import cli

real_exit = os._exit
os._exit = lambda code: (os.write(2, b"quick exit %d\\n" % code), real_exit(code))
atexit.register(lambda: sys.stderr.write("exit handler ran\\n"))
sys.argv = ["maild", *sys.argv[1:]]
raise SystemExit(cli.main())
"""


# The same command through main(argv), as a caller (the tests) runs it: never a quick exit.
CALLER = PROBE.replace("raise SystemExit(cli.main())", "raise SystemExit(cli.main(sys.argv[1:]))")


def run(tmp_path: Path, *args: str, probe: str = PROBE) -> subprocess.CompletedProcess[str]:
    cfg = tmp_path / "maild.toml"
    cfg.write_text("")
    return subprocess.run([sys.executable, "-c", probe, *args, "--config", str(cfg)], capture_output=True, text=True, timeout=120)


def test_parse_writes_every_line_and_runs_its_exit_handlers_before_its_quick_exit(tmp_path: Path) -> None:
    assert len(REPORTS) > 5
    done = run(tmp_path, "parse", "--json", *map(str, REPORTS), str(tmp_path / "missing.eml"))
    lines = done.stdout.splitlines()
    assert [json.loads(line)["file"] for line in lines] == [*map(str, REPORTS), str(tmp_path / "missing.eml")]
    assert done.returncode == 1  # the missing file, as before
    assert done.stderr.index("exit handler ran") < done.stderr.index("quick exit 1")


@pytest.mark.parametrize(("args", "code"), [(("status", "1234", "--json"), 1), (("events", "--json"), 0), (("queue", "list", "--json"), 0)])
def test_a_reader_prints_its_answer_closes_its_database_and_runs_its_exit_handlers_before_its_quick_exit(
    tmp_path: Path, args: tuple[str, ...], code: int
) -> None:
    normal = run(tmp_path, *args, probe=CALLER)  # main(argv) from a caller: the interpreter's own exit
    done = run(tmp_path, *args)
    assert (done.returncode, done.stdout) == (normal.returncode, normal.stdout) == (code, normal.stdout)
    assert (done.stdout.strip() or args[0] == "events") and "quick exit" not in normal.stderr  # events: none yet
    assert done.stderr.index("exit handler ran") < done.stderr.index(f"quick exit {code}")
    db = tmp_path / "var" / "maild.db"
    assert db.is_file() and not Path(f"{db}-wal").exists()  # closed: SQLite removed its WAL, nothing left to the OS


@pytest.mark.parametrize("args", [("departments", "list", "--json"), ("queue", "retry", "1")])
def test_another_command_still_exits_through_the_interpreter(tmp_path: Path, args: tuple[str, ...]) -> None:
    done = run(tmp_path, *args)
    assert "exit handler ran" in done.stderr and "quick exit" not in done.stderr


def test_ingest_commits_closes_its_database_and_runs_its_exit_handlers_before_its_quick_exit(tmp_path: Path) -> None:
    cfg = tmp_path / "maild.toml"
    cfg.write_text("")
    keys = subprocess.run([sys.executable, "-m", "maild", "keys", "rotate", "--config", str(cfg)],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert keys.returncode == 0, keys.stderr
    raw = REPORTS[0].read_bytes()
    done = subprocess.run([sys.executable, "-c", PROBE, "ingest", "--json", "--config", str(cfg), "-"],
                          input=raw.decode("latin-1"), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    fingerprint = json.loads(done.stdout)["fingerprint"]
    # The parent's own quick exit comes last (its parse child's os._exit is reported before it).
    assert done.stderr.index("exit handler ran") < done.stderr.rindex("quick exit 0")
    databases = list(tmp_path.rglob("*.db"))
    assert len(databases) == 1
    # Closed before the process ended: the last connection's close checkpointed and removed the WAL, as before.
    assert not Path(f"{databases[0]}-wal").exists()
    conn = sqlite3.connect(databases[0])
    try:
        assert conn.execute("SELECT count(*) FROM reports WHERE fingerprint = ?", (fingerprint,)).fetchone() == (1,)
    finally:
        conn.close()


def test_ingest_that_records_nothing_keeps_its_exit_code_through_the_quick_exit(tmp_path: Path) -> None:
    done = run(tmp_path, "ingest", str(REPORTS[0]))  # no token key file: nothing recorded, the MTA retries
    assert done.returncode == 75, done.stderr
    assert "not recorded" in done.stderr and done.stderr.index("exit handler ran") < done.stderr.index("quick exit 75")


def _without_stdout() -> None:
    import os

    os.close(1)


@pytest.mark.parametrize("args", [("parse", "--json"), ("parse",)])
def test_a_command_started_without_standard_output_says_so_in_one_line(tmp_path: Path, args: tuple[str, ...]) -> None:
    # `maild ... >&-`: Python leaves sys.stdout None; the first write is a one-line error, never a traceback.
    cfg = tmp_path / "maild.toml"
    cfg.write_text("")
    done = subprocess.run([sys.executable, "-m", "maild", *args, str(REPORTS[0]), "--config", str(cfg)],
                          stdout=None, stderr=subprocess.PIPE, text=True, timeout=120, cwd=REPO,
                          preexec_fn=_without_stdout)
    assert done.returncode == 1
    assert "standard output is closed" in done.stderr and "Traceback" not in done.stderr, done.stderr
