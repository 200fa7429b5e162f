"""`maild status --json` and `maild events --json` byte for byte: key order, spacing, escapes and values pinned.

The golden files in tests/data/status/ are compared as parsed JSON by test_status.py (the DESIGN.md contract); these
pin the exact bytes, so a faster encoder or a reordered record cannot change what operators' scripts read. The
expected files were checked field by field against the store the `site` fixture builds (its events, times and
failures) and against DESIGN.md's shapes.
"""

from __future__ import annotations

from pathlib import Path

from tests.cli.test_status import cli, site  # noqa: F401  (the fixture)

EXACT = Path(__file__).resolve().parents[1] / "data" / "status"


def test_status_json_is_byte_identical(site, capsys) -> None:  # noqa: F811
    code, out = cli(site, capsys, "status", "1234", "--json")
    assert code == 0
    assert out == (EXACT / "status_1234.exact.json").read_text()


def test_status_json_with_receipts_off_is_byte_identical(site, capsys) -> None:  # noqa: F811
    assert cli(site, capsys, "departments", "disable", "billing")[0] == 0
    code, out = cli(site, capsys, "status", "1234", "--json")
    assert code == 0
    assert out == (EXACT / "status_1234_receipts_off.exact.json").read_text()


def test_events_json_is_byte_identical(site, capsys) -> None:  # noqa: F811
    code, out = cli(site, capsys, "events", "--json")
    assert code == 0
    assert out == (EXACT / "events.exact.jsonl").read_text()
