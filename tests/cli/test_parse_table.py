"""`maild parse FILE...` without --json: the README's table, one row per recipient, an error row for an unreadable
file, plain text (no colour codes) when not on a terminal, exit status 1 when any file failed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DELAYED = REPO / "tests" / "data" / "reports" / "dsn-delayed.eml"
COLUMNS = ["file", "kind", "recipient", "action", "status", "reason", "disposition", "message-id / token"]


def _rows(out: str) -> list[list[str]]:
    """Cells of every rich table line that has cells ("┃" header, "│" body), stripped."""
    rows = []
    for line in out.splitlines():
        sep = "┃" if "┃" in line else "│" if "│" in line else None
        if sep:
            rows.append([c.strip() for c in line.split(sep)[1:-1]])
    return rows


def test_table_rows_per_recipient_and_an_error_row(tmp_path: Path) -> None:
    two = tmp_path / "two.eml"
    two.write_bytes(DELAYED.read_bytes().replace(
        b"Will-Retry-Until: Thu, 6 Mar 2025 10:00:00 +0000\n",
        b"Will-Retry-Until: Thu, 6 Mar 2025 10:00:00 +0000\n\n"
        b"Final-Recipient: rfc822; fritz@example.org\nAction: failed\nStatus: 5.1.1\n"
        b"Diagnostic-Code: smtp; 550 5.1.1 <fritz@example.org>: Recipient address rejected: User unknown\n"))
    cfg = tmp_path / "maild.toml"
    cfg.write_text("")
    missing = tmp_path / "nope.eml"
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "FORCE_COLOR", "TERM")}
    run = subprocess.run([sys.executable, "-m", "maild", "parse", two.name, missing.name, "--config", str(cfg)],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env)
    assert run.returncode == 1, run.stderr  # one file could not be read
    assert "\x1b[" not in run.stdout and "Traceback" not in run.stdout + run.stderr
    rows = _rows(run.stdout)
    assert rows[0] == COLUMNS
    # the fixture's fields, read by eye from tests/data/reports/dsn-delayed.eml
    token = "mfrggzdfmztwq2lknnwg23tpobyxe43u"
    first, second, error = rows[1], rows[2], rows[3]
    assert first[0] == "two.eml" and first[1] == "dsn"
    assert first[2:5] == ["emil@example.org", "delayed", "4.4.1"]
    assert first[7] == f"<reply-42@helpdesk.example.com> {token}"
    assert second[0] == "" and second[1] == "" and second[2:5] == ["fritz@example.org", "failed", "5.1.1"]
    assert second[5] == "userunknown"
    assert error[1] == "error" and "No such file" in error[2]
