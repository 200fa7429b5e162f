"""Benchmark helper: warm passes of the report parser over the Sisimai messages, for instruction counts under callgrind.

The parser derives its pre-checks after some use (the reason rules' one-pass scan after 600 samples, a pattern's
literals on its fourth call), so W warm-up passes (3 by default) run first, then N measured ones; the warm cost
of a pass is the difference of two runs, N=3 and N=1, halved:

    PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.%p.out .venv/bin/python bench/parse_warm.py 1
    PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.%p.out .venv/bin/python bench/parse_warm.py 3

Run from the checkout being measured (its `maild` is imported from the current folder).
Usage: python bench/parse_warm.py N [W] (corpus: $MAILD_CORPUS or ../shared/corpus)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, os.getcwd())

from maild.reports import parse  # noqa: E402 - from the checkout in the current folder


def main() -> None:
    corpus = Path(os.environ.get("MAILD_CORPUS") or Path(__file__).resolve().parents[2] / "shared" / "corpus")
    raws = [p.read_bytes() for p in sorted((corpus / "bounces").glob("sisimai/*/*.eml"))]
    passes = int(sys.argv[1])
    warm_up = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    for _ in range(warm_up + passes):
        for raw in raws:
            parse(raw)


if __name__ == "__main__":
    main()
