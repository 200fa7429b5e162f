"""`maild parse` over many files imports the parser's lazily loaded parts once, in the parent, before its lanes fork.

Checked in a fresh interpreter running `cli.parse.results` as `run` does: after a run of two lanes the parent holds
flufl.bounce and the detectors imported on first use (reports.firstuse), though it parsed nothing (it never opened
an input file: each is read and parsed in a child, under its deadline); a one-file run leaves them out of it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from maild.cli.parse import LANE_FILES
from tests.support.reports import DSN

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
names = sys.argv[2:]
opened = []
sys.addaudithook(lambda event, args: opened.append(str(args[0])) if event == "open" else None)
from maild.cli import parse
from maild.reports import ParseHints
lanes = parse.lanes_for(len(names), None if sys.argv[1] == "default" else int(sys.argv[1]))
lines = list(parse.results(names, ParseHints(), lanes))
json.dump({
    "lines": len(lines),
    "parent_has": sorted(m for m in ("flufl.bounce._scan", "maild.reports.bounce") if m in sys.modules),
    "parent_opened_inputs": sorted(set(opened) & set(names)),
}, sys.stdout)
"""


def run(jobs: str, names: list[Path]) -> dict[str, object]:
    argv = [sys.executable, "-c", PROBE, jobs, *map(str, names)]
    found: dict[str, object] = json.loads(subprocess.run(argv, capture_output=True, text=True, check=True, cwd=ROOT).stdout)
    return found


def dsns(folder: Path, count: int) -> list[Path]:
    paths = [folder / f"dsn-{n}.eml" for n in range(count)]
    for path in paths:
        path.write_bytes(DSN)  # DSNs: no child's parse imports the bounce heuristics or flufl.bounce
    return paths


def test_lanes_import_the_lazy_parts_in_the_parent_which_reads_no_file(tmp_path: Path) -> None:
    out = run("2", dsns(tmp_path, LANE_FILES))
    assert out["lines"] == LANE_FILES
    assert out["parent_has"] == ["flufl.bounce._scan", "maild.reports.bounce"]
    assert out["parent_opened_inputs"] == []


def test_a_few_files_on_lanes_given_by_jobs_leave_the_imports_to_the_children(tmp_path: Path) -> None:
    # Two DSNs on --jobs 2: neither child's parse needs flufl.bounce, which the parent would import in series.
    out = run("2", dsns(tmp_path, 2))
    assert out["lines"] == 2
    assert out["parent_has"] == []


def test_a_one_file_parse_does_not_pay_for_it(tmp_path: Path) -> None:
    out = run("default", dsns(tmp_path, 1))
    assert out["lines"] == 1
    assert out["parent_has"] == []
