"""receipts.reportwire: a Report sent as marshal bytes comes back equal, of the same types, or the read fails."""

from __future__ import annotations

import marshal
import os
from enum import Enum
from pathlib import Path

import pytest

from maild.core.frozen import is_record, record_fields
from maild.receipts import reportwire
from maild.reports import ParseHints, Report, parse
from tests.support.reports import DSN

REPO = Path(__file__).resolve().parents[2]


def corpus_messages() -> list[Path]:
    root = Path(os.environ.get("MAILD_CORPUS") or REPO.parent / "shared" / "corpus")
    if not (root / "bounces").is_dir():
        pytest.skip(f"bounce corpus not found at {root} (set MAILD_CORPUS to the folder holding bounces/ and postfix-dsn/)")
    return sorted(p for p in (root / "bounces").rglob("*") if p.is_file() and p.suffix in (".eml", ".txt")) + sorted(
        (root / "postfix-dsn").glob("*.eml"))


def same(a: object, b: object, where: str = "report") -> None:
    """Equal, and of the same type all the way down (a StrEnum member equals its str: == alone would not tell)."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} against {type(b).__name__}"
    if is_record(type(a)):
        for f in record_fields(type(a)):
            same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, tuple):
        assert len(a) == len(b), where  # type: ignore[arg-type]
        for i, (x, y) in enumerate(zip(a, b)):  # type: ignore[call-overload]
            same(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def test_every_corpus_report_comes_back_equal_and_of_the_same_types() -> None:
    files = corpus_messages()
    assert len(files) > 300
    enums = 0
    hints = ParseHints(domain="helpdesk.example.com")
    for path in files:
        report = parse(path.read_bytes(), hints)
        back = reportwire.loads(reportwire.dumps(report))
        same(back, report, path.name)
        assert back == report
        enums += sum(isinstance(r.reason, Enum) for r in report.recipients)
    assert enums > 100  # the reasons, StrEnum members, did travel


def test_a_report_and_its_parts() -> None:
    report = parse(DSN, ParseHints())
    assert isinstance(report, Report) and report.recipients
    same(reportwire.loads(reportwire.dumps(report)), report)
    for value in (None, "text", 3, 2.5, True, b"raw", (), ("a", ("b", None)), report.kind, report.recipients):
        same(reportwire.loads(reportwire.dumps(value)), value)


@pytest.mark.parametrize("value", [["a list"], {"a": "dict"}, object(), {1, 2}, Path("/tmp")], ids=repr)
def test_what_a_report_never_holds_is_refused_when_sent(value: object) -> None:
    with pytest.raises(TypeError):
        reportwire.dumps(value)


@pytest.mark.parametrize("sent", [
    b"", b"\x00garbage",
    marshal.dumps(("r", "os", "stat_result", [])),  # a class outside maild
    marshal.dumps(("r", "maild.reports.model", "NoSuchRecord", [])),
    marshal.dumps(("r", "maild.no.such.module", "Report", [])),
    marshal.dumps(("r", "maild.reports.model", "Report", [("not_a_field", 1)])),
    marshal.dumps(("e", "maild.core.reasons", "Reason", "not a reason")),
    marshal.dumps(("e", "maild.reports.model", "Report", "x")),  # a record sent as an enum
    marshal.dumps(("x", "maild.core.reasons", "Reason", "x")),
    marshal.dumps(["a list"]),
])
def test_bytes_it_did_not_write_are_a_value_error(sent: bytes) -> None:
    with pytest.raises(ValueError):
        reportwire.loads(sent)
