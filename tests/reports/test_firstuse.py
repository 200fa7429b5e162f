"""reports.firstuse.load imports ahead what parse() imports on its first use, so a parse after it imports nothing more.

Checked in a fresh interpreter (this one has imported the detectors long ago), over the test fixtures: without
load() their parses import the lazily loaded detectors, flufl.bounce and html; after it, none of those.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WATCHED = ("maild", "flufl", "html", "email", "hashlib")  # what a parse may import on first use

PROBE = """
import json, sys
from pathlib import Path
from maild.reports import firstuse, parse
if sys.argv[1] == "load":
    firstuse.load()
before = set(sys.modules)
for path in sorted(Path("tests/data").rglob("*.eml")):
    parse(path.read_bytes())
json.dump(sorted(set(sys.modules) - before), sys.stdout)
"""


def imported_by_parses(*argv: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    return [m for m in json.loads(out) if m.split(".")[0] in WATCHED]


def test_the_fixtures_parses_import_the_lazily_loaded_parts() -> None:
    # Else the test below would pass however little load() did.
    found = imported_by_parses("no-load")
    assert {"maild.reports.bounce", "maild.reports.textreceipt", "flufl.bounce._scan", "html"} <= set(found)


def test_after_load_a_parse_imports_nothing_of_the_parser_or_its_libraries() -> None:
    assert imported_by_parses("load") == []


OPENS = """
import json, sys
opened = []
sys.addaudithook(lambda event, args: opened.append(str(args[0])) if event == "open" else None)
from maild.core import recache
from maild.reports import firstuse
before = len(opened)
firstuse.load()
firstuse.load()  # a second call does nothing more
json.dump({"opened": opened[before:], "kept": recache.cache_path()}, sys.stdout)
"""


def test_load_opens_only_code_and_the_kept_regexes() -> None:
    # The parent of the parse children runs it before any fork: it must read no message (a hostile file may only
    # ever hang a child, which has its deadline), only modules' code and core.recache's file.
    out = json.loads(subprocess.run([sys.executable, "-c", OPENS], capture_output=True, text=True, check=True, cwd=ROOT).stdout)
    assert out["opened"]  # it did import something
    assert [p for p in out["opened"] if not p.endswith((".py", ".pyc")) and p != out["kept"]] == []
