"""Under a CLI command, every line on stderr is JSON or the command's own message: library output is routed too.

Reproduced: `maild parse` and `maild ingest` let flufl.bounce's `log.exception` (a detector that raised) print
its message and a plain traceback through logging's last-resort handler, a Python warning print its two plain
lines, and an unexpected exception end in Python's traceback. Forced here in a real subprocess: a driver
replaces flufl.bounce's detectors with one that warns and one that raises, then runs `maild.cli.main`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

DRIVER = '''
import sys, warnings
import flufl.bounce._scan as scan

class Warns:
    def process(self, msg):
        warnings.warn("a library's warning", UserWarning)
        return set(), set()

class Raises:
    def process(self, msg):
        raise RuntimeError("a detector's bug")

scan._DETECTORS = [Warns, Raises]
if sys.argv[1] == "--crash":
    import maild.cli.parse
    def crash(names, hints, lanes=1):
        raise KeyError("a bug in maild")
    maild.cli.parse.results = crash
    del sys.argv[1]
from maild.cli import main
sys.exit(main(sys.argv[1:]))
'''

# A bounce that names no address: the structural scan finds nothing, so flufl.bounce's detectors run.
BOUNCE = (b"From: MAILER-DAEMON@mx.example.net\nTo: receipts@helpdesk.example.com\n"
          b"Subject: Undelivered Mail Returned to Sender\n\nThis is the mail system. Your message could not be delivered.\n")


def run(tmp_path: Path, *argv: str, stdin: bytes | None = None) -> tuple[int, list[str]]:
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    done = subprocess.run([sys.executable, str(driver), *argv], input=stdin, capture_output=True, cwd=ROOT, timeout=120)
    return done.returncode, done.stderr.decode().splitlines()


def events(lines: list[str]) -> list[dict[str, object]]:
    """Every stderr line as JSON: a plain line fails the test here."""
    return [json.loads(line) for line in lines]


@pytest.mark.parametrize("command", ["parse", "ingest"])
def test_a_library_warning_and_a_library_exception_log_are_json_lines(tmp_path, config_file, command):
    message = tmp_path / "bounce.eml"
    message.write_bytes(BOUNCE)
    code, lines = run(tmp_path, command, "--config", str(config_file), "--json", str(message))
    assert code == 0, lines
    logged = events(lines)
    assert any(e["event"] == "library_warning" and e["category"] == "UserWarning" for e in logged)
    assert any(e["event"] == "library_log" and e["logger"] == "flufl.bounce" and "RuntimeError" in str(e["error"])
               for e in logged)


def test_an_unexpected_exception_in_a_command_is_one_json_line_with_exit_1(tmp_path, config_file):
    message = tmp_path / "bounce.eml"
    message.write_bytes(BOUNCE)
    code, lines = run(tmp_path, "--crash", "parse", "--config", str(config_file), str(message))
    assert code == 1
    (failed,) = [e for e in events(lines) if e["event"] == "command_failed"]
    assert failed["command"] == "parse" and failed["error"] == "KeyError: 'a bug in maild'"


LATE = '''
import sys
from maild import liblogs, logs
logs.configure("warning", "json")
liblogs.route_command_output()
loaded_before = "logging" in sys.modules
import logging  # as a library first imported in the middle of a command (flufl.bounce for a bounce) does
try:
    raise ValueError("deep inside")
except ValueError:
    logging.getLogger("late.library").exception("a late library failed: %s", "badly")
logging.getLogger("late.library").info("below warning: dropped")
print(loaded_before, file=sys.stdout)
'''


def test_a_library_that_imports_logging_after_the_command_started_is_routed_too(tmp_path):
    # route_command_output() does not import logging itself (a DSN's parse never needs it); it routes logging
    # when a library first imports it.
    done = subprocess.run([sys.executable, "-c", LATE], capture_output=True, cwd=ROOT, timeout=60)
    assert done.stdout.decode().strip() == "False"
    (logged,) = events(done.stderr.decode().splitlines())
    assert logged["event"] == "library_log" and logged["logger"] == "late.library"
    assert logged["text"] == "a late library failed: badly" and logged["error"] == "ValueError: deep inside"
