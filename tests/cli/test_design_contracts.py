"""The JSON contracts of ../shared/DESIGN.md, read from DESIGN.md itself: `maild parse --json` prints the documented
fields, and the `maild status --json` golden files (which the CLI and HTTP tests compare output against) keep
them. A renamed or dropped field breaks every script built on the contract."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("MAILD_SHARED") or REPO.parent / "shared")
BREAKS = "this breaks the DESIGN.md JSON contract that scripts and the helpdesk rely on"
FAILURE_FIELDS = {"status", "reason", "hard", "diagnostic", "remote_mta", "source", "at"}


def _design() -> str:
    path = SHARED / "DESIGN.md"
    if not path.is_file():
        pytest.skip(f"DESIGN.md not found at {path} (the shared folder beside the repository; MAILD_SHARED overrides)")
    return path.read_text()


def _example_after(text: str, marker: str) -> Any:
    block = re.search(r"```json\n(.*?)```", text[text.index(marker):], flags=re.S)
    assert block, f"no JSON example after {marker!r} in DESIGN.md"
    return json.loads(block.group(1))


def test_parse_json_has_the_documented_fields(tmp_path: Path) -> None:
    want = _example_after(_design(), "`maild parse FILE... --json`")
    cfg = tmp_path / "maild.toml"
    cfg.write_text("")
    dsn = REPO / "tests" / "data" / "reports" / "dsn-delayed.eml"
    out = subprocess.run([sys.executable, "-m", "maild", "parse", str(dsn), "--json", "--config", str(cfg)],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    got = json.loads(out)
    assert set(want) <= set(got), (sorted(set(want) - set(got)), BREAKS)
    assert set(want["recipients"][0]) <= set(got["recipients"][0]), BREAKS
    assert got["kind"] in {"dsn", "mdn", "bounce", "autoreply", "arf", "unknown"}
    assert got["recipients"][0]["action"] in {"failed", "delayed", "delivered", "relayed", "expanded", None}


def test_status_golden_files_keep_the_documented_fields() -> None:
    text = _design()
    want = _example_after(text, "`maild status TICKET --json`")
    documented_failure = set(re.findall(r'"(\w+)":', text[text.index("A recipient's `failure`"):][:400]))
    assert FAILURE_FIELDS <= documented_failure, "DESIGN.md's failure object changed: update the golden files with it"
    goldens = sorted((REPO / "tests" / "data" / "status").glob("*.json"))
    assert goldens
    for golden in goldens:
        doc = json.loads(golden.read_text())
        assert set(want) <= set(doc), (golden.name, BREAKS)
        for reply in doc["replies"]:
            assert set(want["replies"][0]) <= set(reply), (golden.name, BREAKS)
            for r in reply["recipients"]:
                assert set(want["replies"][0]["recipients"][0]) <= set(r), (golden.name, BREAKS)
                if r["failure"] is not None:
                    assert FAILURE_FIELDS <= set(r["failure"]), (golden.name, BREAKS)
