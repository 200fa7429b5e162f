"""Benchmark: CPU time of the whole `maild parse --json FILES` process over the Sisimai set, against another checkout.

Each round runs, in ABBA order, this checkout's console script, the `--against` checkout's twice, and this one's
again (each on its own scratch configuration, as bench/parse.py makes them), and takes each run's CPU time (user +
system of the command and its parse child, from RUSAGE_CHILDREN). It prints the medians of the four columns, the
ratio ours / theirs, and the two A/A ratios (ours / ours, theirs / theirs) that say how far apart the same code
lands in the same run: a ratio inside them is not shown. CPU time, not wall time: on a shared 2-core machine the
wall clock measures the neighbours. One untimed run of each side first (bytecode compiled, regex cache filled).
Usage: python bench/whole_cpu.py --against DIR [--rounds N] [--corpus PATH]
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from parse import REPO, scratch_config, sisimai_files  # noqa: E402 - bench/parse.py, beside this file


def cpu_seconds(argv: list[str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, capture_output=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--against", type=Path, required=True)
    ap.add_argument("--rounds", type=int, default=21)
    ap.add_argument("--corpus", type=Path, default=Path(os.environ.get("MAILD_CORPUS") or REPO.parent / "shared" / "corpus"))
    args = ap.parse_args()
    files = [str(f) for f in sisimai_files(args.corpus)]
    if not files:
        print(f"no Sisimai messages under {args.corpus}", file=sys.stderr)
        return 1
    for repo in (REPO, args.against):
        compileall.compile_dir(repo / "maild", quiet=1)
    print(f"load average at the start: {' '.join(open('/proc/loadavg').read().split()[:3])}")
    with tempfile.TemporaryDirectory(prefix="maild-whole-") as tmp:
        ours_cfg = scratch_config(Path(tmp) / "ours")
        theirs_cfg = scratch_config(Path(tmp) / "theirs", args.against, str(args.against / ".venv" / "bin" / "python"))
        ours = [str(Path(sys.executable).parent / "maild"), "parse", "--json", "--config", str(ours_cfg), *files]
        theirs = [str(args.against / ".venv" / "bin" / "maild"), "parse", "--json", "--config", str(theirs_cfg), *files]
        cpu_seconds(ours), cpu_seconds(theirs)
        columns: list[list[float]] = [[], [], [], []]
        for _ in range(args.rounds):
            for column, argv in zip(columns, (ours, theirs, theirs, ours)):
                column.append(cpu_seconds(argv))
    a1, b1, b2, a2 = (statistics.median(c) for c in columns)
    print(f"{len(files)} files, {args.rounds} rounds (ABBA), CPU medians: ours {a1 * 1000:.1f} / {a2 * 1000:.1f} ms, "
          f"{args.against}'s {b1 * 1000:.1f} / {b2 * 1000:.1f} ms")
    print(f"  ours / theirs {(a1 + a2) / (b1 + b2):.3f}x; A/A ours {a2 / a1:.3f}x, theirs {b2 / b1:.3f}x")
    print(f"load average at the end: {' '.join(open('/proc/loadavg').read().split()[:3])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
