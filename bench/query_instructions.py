"""Instructions per `maild status` call (load_thread + the encoder), counted by valgrind: a figure the machine's load does not move.

    .venv/bin/python bench/query_instructions.py --against /work/wt-old            # 500 calls, both checkouts
    .venv/bin/python bench/query_instructions.py --this /work/wt-old --against /work/wt-old   # A/A: the counts' own spread

CPU time ratios from bench/query_ab.py need A/A runs beside them and a quiet machine to show a few per cent;
callgrind counts the instructions the interpreter and SQLite execute, the same from run to run within about
0.2%. Each checkout runs twice under `valgrind --tool=callgrind` on the store bench/query_ab.py built for it
(`--dir`, as query_ab's), once with only the warm-up calls and once with `--calls` more, and the difference
divided by `--calls` is its count per call. Instructions are not time (cache misses and mispredicted branches
are not in them), so read this beside query_ab's interleaved CPU ratios, not instead of them.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent))
from query_ab import commit, status_api, store  # noqa: E402 - this directory's module, not an installed one

WARM = 200


def calls(db_path: str, n: int) -> int:
    """Run WARM + n status calls of MAILD_REPO's code on db_path (the process valgrind counts)."""
    import random

    queries, db, encode, old_api = status_api(db_path)
    rng = random.Random(5)
    for ticket in [str(rng.randint(1, 2500)) for _ in range(WARM + n)]:
        db.conn.execute("BEGIN")
        try:
            encode(queries.load_thread(db, ticket, **old_api))
        finally:
            db.conn.execute("ROLLBACK")
    return 0


def counted(repo: Path, db: Path, n: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/cg.out", sys.executable, str(HERE),
             "--against", ".", "--worker", str(db), "--calls", str(n)],
            capture_output=True, text=True, check=True, env={**os.environ, "MAILD_REPO": str(repo), "PYTHONHASHSEED": "0"},
        )
    found = re.search(r"Collected : (\d+)", out.stderr)
    if found is None:
        raise SystemExit(f"no callgrind total in: {out.stderr[-500:]}")
    return int(found.group(1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--against", required=True, metavar="CHECKOUT")
    ap.add_argument("--this", default=str(HERE.parents[1]), metavar="CHECKOUT")
    ap.add_argument("--calls", type=int, default=500)
    ap.add_argument("--scale", type=float, default=0.01)
    ap.add_argument("--dir", default="/work/bench-cache/query-ab", help="where bench/query_ab.py keeps its stores")
    ap.add_argument("--worker", metavar="DB", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return calls(args.worker, args.calls)
    per_call = {}
    for name, repo in (("this", Path(args.this).resolve()), ("other", Path(args.against).resolve())):
        db = store(repo, Path(args.dir) / f"{commit(repo)}-{args.scale}", args.scale)
        per_call[name] = (counted(repo, db, args.calls) - counted(repo, db, 0)) / args.calls
        print(f"{name} ({repo}): {per_call[name]:,.0f} instructions a status call")
    print(f"this/other: {per_call['this'] / per_call['other']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
