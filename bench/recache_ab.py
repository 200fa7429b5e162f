"""Benchmark: what maild.core.recache saves a first pass, in fresh processes with the cache used and switched off.

Each run is a new interpreter that imports the parser and parses the Sisimai set of the corpus once (the first
pass a `maild parse FILES` makes), timing its CPU; `off` runs replace `recache.compile` by `re.compile` and
`recache.literals` by its own derivation, so every pattern is compiled and every pre-check derived as before the
cache existed. Runs alternate on/off, so a busy machine slows both alike; the medians and their ratio are printed.
The cache file must exist (one `maild parse` over the files, or one `on` run, writes it).

Usage: python bench/recache_ab.py [--runs N] [--corpus PATH]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHILD = """
import re, sys, time
from pathlib import Path
from maild.core import recache
if sys.argv[1] == "off":
    recache.compile = lambda pattern, flags=0: re.compile(pattern, flags)
    recache.literals = lambda source, flags, derive, module_file: derive(source, flags)
from maild.reports import parse
raws = [p.read_bytes() for p in sorted(Path(sys.argv[2]).glob("bounces/sisimai/*/*.eml"))]
started = time.process_time()
for raw in raws:
    parse(raw)
print(time.process_time() - started, len(raws))
"""


def run(mode: str, corpus: Path) -> tuple[float, int]:
    out = subprocess.run([sys.executable, "-c", CHILD, mode, str(corpus)], capture_output=True, text=True, check=True, cwd=REPO)
    seconds, count = out.stdout.split()
    return float(seconds), int(count)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--corpus", type=Path, default=Path(os.environ.get("MAILD_CORPUS") or REPO.parent / "shared" / "corpus"))
    args = ap.parse_args()
    print(f"load average at the start: {' '.join(open('/proc/loadavg').read().split()[:3])}")
    times: dict[str, list[float]] = {"on": [], "off": []}
    count = 0
    for _ in range(args.runs):
        for mode in ("on", "off"):
            seconds, count = run(mode, args.corpus)
            times[mode].append(seconds)
    for mode, values in times.items():
        print(f"first pass over {count} messages, cache {mode:3s}: median {statistics.median(values) * 1000:6.1f} ms CPU"
              f"  (min {min(values) * 1000:.1f}, max {max(values) * 1000:.1f})")
    print(f"on / off: {statistics.median(times['on']) / statistics.median(times['off']):.2f}x")
    print(f"load average at the end: {' '.join(open('/proc/loadavg').read().split()[:3])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
