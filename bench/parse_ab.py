"""Benchmark: two checkouts' report parsers in one process, interleaved message by message, in CPU time.

On a shared machine two runs taken one after the other see different loads; here each message is parsed by
both checkouts in turn (the order alternating), so whatever slows one slows the other alike, and the ratio
per round is stable where separate runs swing by a third. Each checkout's `maild` package is imported from
its own folder (the first one's modules are dropped from sys.modules before the second is imported), with
the third-party packages of the running interpreter. Messages: the corpus files bench/parse.py times.

`--whole` measures instead the whole process, start-up included, as the issue's target does: `maild parse --json
FILES` over Sisimai's set-of-emails messages run by each checkout's own `.venv` (DIR/.venv and this one's, the
order alternating per round), next to one `perl` process calling `Sisimai->make` per file when Sisimai 4.25 is
installed, in CPU time of the child processes (their forked parse child included); both outputs must be equal.

The checkout imported second runs its readers 3-4% slower than the first, whatever their code (two copies of
one commit measured so: 1.022-1.054 with the copy second, 0.960-0.977 with it first; the MIME tree alone shows
no such lean). `--here-first` imports this checkout first: quote a ratio from both orders (e.g. their geometric
mean), not from one.

`--tree` times the MIME tree alone, `maild.reports.mime.parse` (the input's bounds and the compat32 tree), the
same way.

Usage: python bench/parse_ab.py --against DIR [--rounds N] [--corpus PATH] [--whole] [--here-first] [--tree]
       (DIR: the other checkout, e.g. a worktree of main; this checkout is "here")
"""

from __future__ import annotations

import argparse
import importlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def parser_of(root: Path, module_name: str = "maild.reports") -> Callable[[bytes], Any]:
    """`parse` of `module_name` (maild.reports, or maild.reports.mime for the tree alone) imported from `root`,
    apart from any maild imported before."""
    for name in [n for n in sys.modules if n == "maild" or n.startswith("maild.")]:
        del sys.modules[name]
    sys.path.insert(0, str(root))
    try:
        module = importlib.import_module(module_name)
    finally:
        sys.path.remove(str(root))
    if not str(module.__file__).startswith(str(root)):
        sys.exit(f"maild came from {module.__file__}, not from {root}")
    parse: Callable[[bytes], Any] = module.parse
    return parse


def corpus_files(corpus: Path) -> list[Path]:
    bounces = corpus / "bounces"
    return sorted(bounces.glob("sisimai/*/*.eml")) + sorted(bounces.glob("flufl/*.txt")) + sorted((corpus / "postfix-dsn").glob("*.eml"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--against", required=True, type=Path, help="the other checkout")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--corpus", default=os.environ.get("MAILD_CORPUS") or str(REPO.parent / "shared" / "corpus"))
    ap.add_argument("--whole", action="store_true", help="whole processes (`maild parse --json FILES`, Sisimai), start-up included")
    ap.add_argument("--here-first", action="store_true", help="import this checkout before the other (see the docstring)")
    ap.add_argument("--tree", action="store_true", help="time maild.reports.mime.parse alone (bounds and MIME tree)")
    args = ap.parse_args()
    if args.whole:
        whole(args.against.resolve(), Path(args.corpus), args.rounds)
        return
    messages = [f.read_bytes() for f in corpus_files(Path(args.corpus))]
    if not messages:
        sys.exit(f"no corpus messages under {args.corpus} (set MAILD_CORPUS)")
    module = "maild.reports.mime" if args.tree else "maild.reports"
    if args.here_first:
        here, other = parser_of(REPO, module), parser_of(args.against.resolve(), module)
    else:
        other, here = parser_of(args.against.resolve(), module), parser_of(REPO, module)
    for raw in messages:  # warm: lazy patterns compiled, prefilters derived
        other(raw)
        here(raw)
    clock = time.process_time
    rates: dict[str, list[float]] = {"other": [], "here": []}
    for round_ in range(args.rounds):
        spent = {"other": 0.0, "here": 0.0}
        for i, raw in enumerate(messages):
            order = (("other", other), ("here", here)) if (i + round_) % 2 == 0 else (("here", here), ("other", other))
            for side, parse in order:
                started = clock()
                parse(raw)
                spent[side] += clock() - started
        for side in rates:
            rates[side].append(len(messages) / spent[side])
    ratios = [h / o for h, o in zip(rates["here"], rates["other"], strict=True)]
    first = "here" if args.here_first else "other"
    what = "mime.parse (the tree) alone" if args.tree else "the whole parser"
    print(f"{what}: {len(messages)} messages x {args.rounds} rounds, interleaved message by message, CPU time, {first} imported first; load {os.getloadavg()[0]:.1f}")
    print(f"other {args.against}: median {statistics.median(rates['other']):.0f} msg/s {[round(r) for r in rates['other']]}")
    print(f"here  {REPO}: median {statistics.median(rates['here']):.0f} msg/s {[round(r) for r in rates['here']]}")
    print(f"here/other per round {[round(r, 3) for r in ratios]}, median {statistics.median(ratios):.3f}")


SISIMAI = "use Sisimai; for my $f (@ARGV) { Sisimai->make($f, delivered => 1) }"  # as bench/parse.py runs it


def _child_cpu(argv: list[str]) -> tuple[float, bytes]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(argv, capture_output=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, done.stdout


def whole(against: Path, corpus: Path, rounds: int) -> None:
    files = [str(p) for p in sorted((corpus / "bounces").glob("sisimai/*/*.eml"))]
    if not files:
        sys.exit(f"no Sisimai messages under {corpus} (set MAILD_CORPUS)")
    pythons = {"other": against / ".venv" / "bin" / "python", "here": REPO / ".venv" / "bin" / "python"}
    sisimai = shutil.which("perl") is not None and subprocess.run(["perl", "-MSisimai", "-e", "1"], capture_output=True).returncode == 0
    cpu: dict[str, list[float]] = {"other": [], "here": [], "sisimai": []}
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "maild.toml"
        shutil.copy(REPO / "maild.toml", config)
        subprocess.run([str(pythons["here"]), "-m", "maild", "keys", "rotate", "--config", str(config)], capture_output=True, check=True)
        outputs: dict[str, bytes] = {}
        for round_ in range(rounds):
            for side in ("other", "here") if round_ % 2 == 0 else ("here", "other"):
                spent, outputs[side] = _child_cpu([str(pythons[side]), "-m", "maild", "parse", "--json", "--config", str(config), *files])
                cpu[side].append(spent)
            if sisimai:
                cpu["sisimai"].append(_child_cpu(["perl", "-e", SISIMAI, *files])[0])
            if outputs["here"] != outputs["other"]:
                sys.exit("the two checkouts' `maild parse --json` outputs differ: compare with bench/parse_answers.py --cli")
    median = {side: statistics.median(v) for side, v in cpu.items() if v}
    print(f"whole process over {len(files)} Sisimai messages x {rounds} rounds, CPU time, outputs equal; load {os.getloadavg()[0]:.1f}")
    for side, values in cpu.items():
        if values:
            print(f"{side:8} median {median[side]:.3f} s CPU {[round(v, 3) for v in values]}")
    print(f"here/other CPU {median['here'] / median['other']:.3f}")
    if "sisimai" in median:
        print(f"Sisimai/here {median['sisimai'] / median['here']:.3f}x, Sisimai/other {median['sisimai'] / median['other']:.3f}x (target >= 2x)")


if __name__ == "__main__":
    main()
