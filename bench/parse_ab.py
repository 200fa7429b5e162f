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

The parser imports modules on first use (the later detectors, the bounce heuristics a dialect falls back to, the
pre-check derivation), and such an import resolves through sys.modules: each checkout's own modules are put
there around each of its calls, outside the clock (`Side`). Without that, the checkout imported first ran the
other one's lazily loaded code: the "lean" of 3-4% between two copies of one commit (1.022-1.054 with the copy
second, 0.960-0.977 with it first) was that mixture; with it, an A/A run reads 0.999-1.012. `--here-first`
imports this checkout first, `--here DIR2` measures DIR2 instead of this checkout (two copies of one commit: an
A/A check of the bench itself).

`--tree` times the MIME tree alone, `maild.reports.mime.parse` (the input's bounds and the compat32 tree), the
same way.

Usage: python bench/parse_ab.py --against DIR [--here DIR2] [--rounds N] [--corpus PATH] [--whole] [--here-first] [--tree]
       (DIR: the other checkout, e.g. a worktree of main; this checkout, or DIR2, is "here")
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


def _own(name: str) -> bool:
    return name == "maild" or name.startswith("maild.")


class Side:
    """One checkout's `parse` of `module_name` (maild.reports, or maild.reports.mime for the tree alone) and the
    maild modules it has loaded, apart from the other checkout's.

    Each call runs with this checkout's modules in sys.modules (`enter`), and what the call loaded is kept for
    the next (`leave`): a module the parser imports on first use is then this checkout's own.
    """

    def __init__(self, root: Path, module_name: str = "maild.reports") -> None:
        for name in [n for n in sys.modules if _own(n)]:
            del sys.modules[name]
        sys.path.insert(0, str(root))
        try:
            module = importlib.import_module(module_name)
        finally:
            sys.path.remove(str(root))
        if not str(module.__file__).startswith(str(root)):
            sys.exit(f"maild came from {module.__file__}, not from {root}")
        self.root = root
        self.parse: Callable[[bytes], Any] = module.parse
        self.modules = {n: m for n, m in sys.modules.items() if _own(n)}

    def enter(self) -> None:
        for name in [n for n in sys.modules if _own(n)]:
            del sys.modules[name]
        sys.modules.update(self.modules)

    def leave(self) -> None:
        self.modules = {n: m for n, m in sys.modules.items() if _own(n)}
        stray = [n for n, m in self.modules.items() if not str(getattr(m, "__file__", None) or self.root).startswith(str(self.root))]
        if stray:
            sys.exit(f"{stray[0]} came from outside {self.root}")


def corpus_files(corpus: Path) -> list[Path]:
    bounces = corpus / "bounces"
    return sorted(bounces.glob("sisimai/*/*.eml")) + sorted(bounces.glob("flufl/*.txt")) + sorted((corpus / "postfix-dsn").glob("*.eml"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--against", required=True, type=Path, help="the other checkout")
    ap.add_argument("--here", type=Path, default=REPO, help="this side's checkout (default: the one holding this script; another for an A/A check)")
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
        here, other = Side(args.here.resolve(), module), Side(args.against.resolve(), module)
    else:
        other, here = Side(args.against.resolve(), module), Side(args.here.resolve(), module)
    for raw in messages:  # warm: lazy patterns compiled, prefilters derived, lazy modules loaded
        for checkout in (other, here):
            checkout.enter()
            checkout.parse(raw)
            checkout.leave()
    clock = time.process_time
    rates: dict[str, list[float]] = {"other": [], "here": []}
    for round_ in range(args.rounds):
        spent = {"other": 0.0, "here": 0.0}
        for i, raw in enumerate(messages):
            order = (("other", other), ("here", here)) if (i + round_) % 2 == 0 else (("here", here), ("other", other))
            for side, checkout in order:
                checkout.enter()  # outside the clock: each side's lazily loaded modules in sys.modules
                parse = checkout.parse
                started = clock()
                parse(raw)
                spent[side] += clock() - started
                checkout.leave()
        for side in rates:
            rates[side].append(len(messages) / spent[side])
    ratios = [h / o for h, o in zip(rates["here"], rates["other"], strict=True)]
    first = "here" if args.here_first else "other"
    what = "mime.parse (the tree) alone" if args.tree else "the whole parser"
    print(f"{what}: {len(messages)} messages x {args.rounds} rounds, interleaved message by message, CPU time, {first} imported first; load {os.getloadavg()[0]:.1f}")
    print(f"other {args.against}: median {statistics.median(rates['other']):.0f} msg/s {[round(r) for r in rates['other']]}")
    print(f"here  {args.here}: median {statistics.median(rates['here']):.0f} msg/s {[round(r) for r in rates['here']]}")
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
