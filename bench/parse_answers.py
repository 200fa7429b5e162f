"""Regression check for parser speed work: the parser's JSON answers of two checkouts over the same inputs, diffed.

A speed change must not change one answer. This writes, for every input, the line `maild parse --json` prints
(the CLI's own `parse_file` and `json_line`, in-process, with a generous time limit so a slow host never turns
an answer into "time limit"), once with this checkout and once with `--against DIR` (another checkout with its
own `.venv`), and lists every input whose line differs. Inputs: every file of ../shared/corpus (or $MAILD_CORPUS:
the Sisimai set, flufl's and Postfix's), every message under tests/data, and `--fuzz N` mutated corpus files
(bench/fuzz_parse.py's seeded mutators), each parsed with no hints and with maild-like hints
(return path receipts@example.com, delimiter "+"), so the token code paths run too.

`--cli` also runs the installed `maild parse --json` of both checkouts over the corpus files (the command itself,
child process and all) and compares its output.

Usage: python bench/parse_answers.py --against DIR [--fuzz N] [--seed S] [--corpus PATH] [--cli]
Exit status 0 when every answer is identical, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Run in the child: read a JSON list of [name, path-or-None, hex-bytes-or-None] jobs on stdin, print one line each.
CHILD = r"""
import dataclasses, json, sys
from pathlib import Path
from maild.cli.parse import parse_file
from maild.cli.visible import json_line
from maild.reports import ParseHints
from maild.reports.clues import hints_for
plain = ParseHints(time_limit=600.0)
tracked = dataclasses.replace(hints_for("receipts@example.com", "+"), time_limit=600.0)
for name, path in json.load(sys.stdin):
    raw = Path(path).read_bytes()
    for label, hints in (("plain", plain), ("tracked", tracked)):
        sys.stdout.write(label + " " + json_line(parse_file(name, raw, hints)) + "\n")
"""


def corpus_dir(arg: str | None) -> Path:
    return Path(arg or os.environ.get("MAILD_CORPUS") or REPO.parent / "shared" / "corpus")


def inputs(corpus: Path, fuzz: int, seed: int, scratch: Path) -> list[tuple[str, str]]:
    files = sorted(p for p in corpus.rglob("*") if p.is_file() and p.suffix in (".eml", ".txt", ".msg", ""))
    files += sorted(p for p in (REPO / "tests" / "data").rglob("*") if p.is_file() and p.suffix in (".eml", ".txt"))
    jobs = [(str(p.relative_to(p.anchor)), str(p)) for p in files]
    if fuzz:
        sys.path.insert(0, str(REPO / "bench"))
        from fuzz_parse import corpus_files, fuzzed

        seeds = [p.read_bytes() for p in corpus_files(corpus)]
        for i in range(fuzz):
            label, data = fuzzed(seeds, seed, i)
            path = scratch / f"fuzz-{i}"
            path.write_bytes(data)
            jobs.append((f"fuzz {seed}/{i} {label}", str(path)))
    return jobs


def answers(checkout: Path, jobs: list[tuple[str, str]]) -> list[str]:
    python = checkout / ".venv" / "bin" / "python"
    done = subprocess.run(
        [str(python), "-c", CHILD], input=json.dumps(jobs), capture_output=True, text=True, cwd=tempfile.gettempdir(),
        env={**os.environ, "PYTHONPATH": str(checkout)},
    )
    if done.returncode:
        sys.exit(f"{checkout}: the parser child failed:\n{done.stderr[-3000:]}")
    return done.stdout.splitlines()


def cli_answers(checkout: Path, files: list[str]) -> list[str]:
    maild = checkout / ".venv" / "bin" / "maild"
    done = subprocess.run([str(maild), "parse", "--json", *files], capture_output=True, text=True, cwd=tempfile.gettempdir())
    return done.stdout.splitlines() + [f"exit {done.returncode}"]


def compare(what: str, ours: list[str], theirs: list[str]) -> int:
    differ = [(a, b) for a, b in zip(ours, theirs, strict=False) if a != b]
    if len(ours) != len(theirs):
        print(f"{what}: {len(ours)} lines here against {len(theirs)} there")
    for a, b in differ[:20]:
        print(f"{what} differs:\n  here:  {a[:600]}\n  there: {b[:600]}")
    print(f"{what}: {len(ours)} answers, {len(differ)} differ")
    return len(differ) + (len(ours) != len(theirs))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--against", required=True, type=Path, help="the other checkout (with its .venv)")
    ap.add_argument("--fuzz", type=int, default=0, help="also this many mutated corpus files")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--corpus")
    ap.add_argument("--cli", action="store_true", help="also compare the installed `maild parse --json` over the corpus")
    args = ap.parse_args()
    corpus = corpus_dir(args.corpus)
    if not corpus.is_dir():
        sys.exit(f"no corpus at {corpus} (set MAILD_CORPUS)")
    with tempfile.TemporaryDirectory() as scratch:
        jobs = inputs(corpus, args.fuzz, args.seed, Path(scratch))
        bad = compare("in-process", answers(REPO, jobs), answers(args.against, jobs))
        if args.cli:
            files = [path for name, path in jobs if not name.startswith("fuzz ")]
            bad += compare("maild parse --json", cli_answers(REPO, files), cli_answers(args.against, files))
    print("identical" if not bad else "ANSWERS DIFFER")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
