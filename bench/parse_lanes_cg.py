"""Instructions of the whole `maild parse --json FILES` command, per process, under callgrind: what a lane costs.

Runs the command over the Sisimai set (bench/parse.py's whole-process files) in a checkout (default this one)
under `valgrind --tool=callgrind --trace-children=yes --dump-before=PyOS_BeforeFork`: the parent's counters are
dumped and zeroed just before each fork, so a child's count is its own work only (without that, a forked
child's count starts from the parent's), the parent's first dump is its start-up up to the first fork, and the
sum over every process is the whole command's. For cli/parse.py's LANE_FILES: the default (one child per CPU)
against `--jobs 1` gives the CPU a second child adds, and one child's count the per-file cost.

Instruction counts repeat to ~0.1% whatever the load; run each checkout once first, so that it holds its kept
regexes (maild.core.recache), as bench/parse.py does (a first run that compiles patterns costs ~80M more).
Usage: python bench/parse_lanes_cg.py [--checkout DIR] [--corpus PATH] [--files N] [--jobs N]
       (prints one line: each process's count, then the sum; the call-graph files stay in a temporary folder)
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def sisimai_files(corpus: Path) -> list[Path]:
    return sorted((corpus / "bounces").glob("sisimai/*/*.eml"))  # as bench/parse.py's whole-process rounds


def counts(folder: Path) -> dict[int, list[int]]:
    """Each process's dumps (callgrind's `summary:` lines, in dump order), by pid."""
    found: dict[int, list[tuple[int, int]]] = {}
    for path in folder.glob("cg.*.out*"):
        match = re.fullmatch(r"cg\.(\d+)\.out(?:\.(\d+))?", path.name)
        if match is None:
            continue
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith(("summary:", "totals:")):
                part = int(match.group(2) or 1 << 30)  # the file without a number is the dump at exit: the last
                found.setdefault(int(match.group(1)), []).append((part, int(line.split()[1])))
                break
    return {pid: [n for _, n in sorted(parts)] for pid, parts in sorted(found.items())}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkout", type=Path, default=REPO, help="the checkout whose .venv runs maild")
    ap.add_argument("--corpus", type=Path, default=Path(os.environ.get("MAILD_CORPUS", REPO.parent / "shared" / "corpus")))
    ap.add_argument("--files", type=int, default=None, help="only the first N files")
    ap.add_argument("--jobs", type=int, default=None, help="maild parse --jobs N (default: the command's own choice)")
    args = ap.parse_args()
    files = sisimai_files(args.corpus)[: args.files]
    if not files or shutil.which("valgrind") is None:
        print("no files, or no valgrind", file=sys.stderr)
        return 1
    out = Path(tempfile.mkdtemp(prefix="parse_lanes_cg."))
    config = out / "maild.toml"
    shutil.copy(args.checkout / "maild.toml", config)
    python = str(args.checkout / ".venv" / "bin" / "python")
    subprocess.run([python, "-m", "maild", "keys", "rotate", "--config", str(config)], cwd=args.checkout, capture_output=True, check=True)
    jobs = [] if args.jobs is None else ["--jobs", str(args.jobs)]
    argv = ["valgrind", "--tool=callgrind", "--trace-children=yes", "--dump-before=PyOS_BeforeFork",
            f"--callgrind-out-file={out}/cg.%p.out", python, "-m", "maild", "parse", "--json", "--config", str(config),
            *jobs, *map(str, files)]
    # In the checkout's folder, as its console script would find its own maild.
    done = subprocess.run(argv, cwd=args.checkout, env={**os.environ, "PYTHONHASHSEED": "0"}, capture_output=True, check=False)
    if done.returncode != 0:  # a failed command's counts measure its error path, not the parse
        print(f"maild parse exited {done.returncode}: {done.stderr.decode(errors='replace')[-2000:]}", file=sys.stderr)
        return 1
    found = counts(out)
    # The parent is the process dumped at its forks; a child forks nothing (and a run without lanes may fork once).
    parent = max(found.items(), key=lambda item: (len(item[1]), -item[0]))
    children = [item for item in found.items() if item[0] != parent[0]]
    total = sum(sum(parts) for _, parts in found.items())
    first = parent[1][0] if len(parent[1]) > 1 else 0
    print(f"{len(files)} files, {'--jobs ' + str(args.jobs) if jobs else 'default lanes'}: parent {sum(parent[1]) / 1e6:.1f}M"
          f" (to the first fork {first / 1e6:.1f}M), children " + " + ".join(f"{sum(p) / 1e6:.1f}M" for _, p in children)
          + f", in all {total / 1e6:.1f}M  ({out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
