"""Differential test of the reason words: Sisimai 4.25's own phrase lists read by maild's reason rules, every disagreement listed.

Usage: python tools/sisimai_phrases.py [--list] [--root DIR]

Sisimai decides most reasons by fixed phrases, one list per reason (the ``$index`` of each
``Sisimai/Reason/*.pm`` of Debian's libsisimai-perl). This reads those lists from the installed modules at run
time (nothing of them is kept in this repository) and gives each phrase, as a bare 550 reply with no enhanced
code, to ``maild.core.reason_rules.reason_for``: the share of phrases read as the reason whose list holds them,
per reason, says how much of the vocabulary real MTAs use for a cause the rules know. Reasons decided by
regular expressions only (blocked, spamdetected, userunknown, ...) have no list and are not counted; nor are
the non-failure reasons and ``onhold``/``undefined``. Neither side is the truth: Sisimai's list may hold a phrase
under a reason its context decides (a "user not found" it files under filtered), so 100% is not the aim; a
phrase read as another reason is a lead to look at, not a bug by itself. Exit status 0; 2 without Sisimai.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from maild.core.reason_rules import reason_for  # noqa: E402  (after the path set-up: runnable from anywhere)

DEFAULT_ROOT = Path("/usr/share/perl5/Sisimai/Reason")
_NOT_COUNTED = {"delivered", "feedback", "vacation", "undefined", "onhold"}
_NAME = re.compile(r"sub text\s*\{\s*'(\w+)'")
_INDEX = re.compile(r"\$index\s*=\s*\[(.*?)\];", re.S)
_STRING = re.compile(r"'((?:[^'\\]|\\.)+)'|\"([^\"]+)\"")


def phrases(root: Path) -> list[tuple[str, str]]:
    """(reason, phrase) for every phrase of every reason's fixed list under root."""
    out: list[tuple[str, str]] = []
    for module in sorted(root.glob("*.pm")):
        source = module.read_text(errors="replace")
        name, index = _NAME.search(source), _INDEX.search(source)
        if name is None or index is None or name.group(1) in _NOT_COUNTED:
            continue
        out += [(name.group(1), single or double) for single, double in _STRING.findall(index.group(1))]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="Sisimai's Reason modules")
    ap.add_argument("--list", action="store_true", help="also list every phrase read as another reason")
    args = ap.parse_args()
    if not args.root.is_dir():
        print(f"Sisimai's reason modules not found at {args.root} (apt-get install libsisimai-perl)", file=sys.stderr)
        return 2
    total: Counter[str] = Counter()
    agreed: Counter[str] = Counter()
    other: list[tuple[str, str, str]] = []
    for reason, phrase in phrases(args.root):
        got = str(reason_for(None, f"550 {phrase}")[0])
        total[reason] += 1
        if got == reason:
            agreed[reason] += 1
        else:
            other.append((reason, got, phrase))
    for reason in sorted(total):
        print(f"{reason:16} {agreed[reason]:3}/{total[reason]:<3}")
    print(f"all              {sum(agreed.values())}/{sum(total.values())}")
    if args.list:
        for reason, got, phrase in other:
            print(f"  Sisimai {reason:15} maild {got:15} {phrase.strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
