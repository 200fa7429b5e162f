"""Differential test: maild's parser next to Sisimai 4.25 (Debian's libsisimai-perl) on the same files, every disagreement listed.

Usage: python tools/sisimai_diff.py [--json] [--summary] PATH...   (files, or folders read recursively)
       python tools/sisimai_diff.py --corpus     the shared corpus plus the repository's own test messages

Per file it compares the recipients each side reports as bounced, delivered, complained about or
auto-replied, and for the recipients both report: the action, the status code (not when Sisimai invented
one, X.0.9NN) and the reason. Read receipts are maild's alone (Sisimai does not read MDNs) and are not
compared. Neither side is the truth: a line says only that the two answers differ, with both answers.
Exit status 0 whatever the differences (it is a report, not a gate); 2 when Sisimai is not installed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from maild.reports import parse  # noqa: E402  (after the path set-up: runnable from anywhere)
from maild.reports.dsn import action_of  # noqa: E402

SISIMAI = r"""
use strict; use warnings; use Sisimai; use JSON::PP;
my $json = JSON::PP->new->canonical;
for my $f (@ARGV) {
    my $v = eval { Sisimai->make($f, delivered => 1) } // [];
    my @r = map { { address => $_->recipient->address, action => $_->action, status => $_->deliverystatus,
                    reason => $_->reason, agent => $_->smtpagent } } @$v;
    print $json->encode({ file => $f, recipients => \@r }), "\n";
}
"""

# What maild calls an answer Sisimai also gives: failures and delays, delivered DSN entries, complaints, auto-replies.
_COMPARED_ACTIONS = ("failed", "delayed", "delivered", "relayed", "expanded")


@dataclass(frozen=True, slots=True)
class Answer:
    action: str | None
    status: str | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class Disagreement:
    file: str
    address: str
    field: str  # "recipient", "action", "status" or "reason"
    maild: str | None
    sisimai: str | None
    sisimai_agent: str | None = None

    def line(self) -> str:
        agent = f" [Sisimai: {self.sisimai_agent}]" if self.sisimai_agent else ""
        return f"{self.file}: {self.address}: {self.field}: maild {self.maild!r}, Sisimai {self.sisimai!r}{agent}"


def sisimai_available() -> bool:
    return shutil.which("perl") is not None and subprocess.run(["perl", "-MSisimai", "-e", "1"], capture_output=True).returncode == 0


def sisimai_answers(files: list[Path]) -> dict[str, tuple[dict[str, Answer], dict[str, str]]]:
    """Per file: Sisimai's answer per lower-cased address, and the Lhost/Rhost module that produced it."""
    out: dict[str, tuple[dict[str, Answer], dict[str, str]]] = {}
    for start in range(0, len(files), 200):  # bounded command lines
        batch = [str(f) for f in files[start:start + 200]]
        run = subprocess.run(["perl", "-e", SISIMAI, *batch], capture_output=True, text=True, check=True)
        for line in run.stdout.splitlines():
            entry = json.loads(line)
            answers: dict[str, Answer] = {}
            agents: dict[str, str] = {}
            for r in entry["recipients"]:
                address = str(r["address"]).lower()
                # Sisimai passes the Action field through as written ("failure"); compare the normalised word.
                action = action_of(r["action"], None) if r["action"] else None
                answers[address] = Answer(action, r["status"] or None, r["reason"] or None)
                agents[address] = r["agent"]
            out[entry["file"]] = (answers, agents)
    return out


def maild_answers(raw: bytes) -> dict[str, Answer]:
    report = parse(raw)
    out: dict[str, Answer] = {}
    for r in report.recipients:
        if not r.address:
            continue
        if r.action in _COMPARED_ACTIONS or r.reason in ("feedback", "vacation"):
            out[r.address.lower()] = Answer(r.action, r.status, r.reason)
    return out


def compare(file: str, ours: dict[str, Answer], theirs: dict[str, Answer], agents: dict[str, str] | None = None) -> list[Disagreement]:
    """Every difference between the two answers for one file (pure: tested on its own)."""
    agents = agents or {}
    found: list[Disagreement] = []
    for address in sorted(ours.keys() | theirs.keys()):
        mine, other = ours.get(address), theirs.get(address)
        agent = agents.get(address)
        if mine is None or other is None:
            found.append(Disagreement(file, address, "recipient", "reported" if mine else None, "reported" if other else None, agent))
            continue
        if other.action and mine.action != other.action:
            found.append(Disagreement(file, address, "action", mine.action, other.action, agent))
        pseudo = other.status is not None and ".0.9" in other.status
        if other.status and not pseudo and mine.status != other.status:
            found.append(Disagreement(file, address, "status", mine.status, other.status, agent))
        if other.reason and mine.reason != other.reason:
            found.append(Disagreement(file, address, "reason", mine.reason, other.reason, agent))
    return found


def files_under(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in (".eml", ".txt", ".msg"))
        elif path.is_file():
            out.append(path)
    return out


def default_paths() -> list[Path]:
    corpus = Path(os.environ.get("MAILD_CORPUS") or REPO.parent / "shared" / "corpus")
    return [corpus / "bounces" / "sisimai", corpus / "bounces" / "flufl", corpus / "postfix-dsn", REPO / "tests" / "data"]


def run(paths: list[Path]) -> tuple[int, list[Disagreement]]:
    files = files_under(paths)
    theirs = sisimai_answers(files)
    found: list[Disagreement] = []
    for f in files:
        answers, agents = theirs.get(str(f), ({}, {}))
        found += compare(str(f), maild_answers(f.read_bytes()), answers, agents)
    return len(files), found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("paths", nargs="*", type=Path)
    ap.add_argument("--corpus", action="store_true", help="the shared corpus and tests/data (the default with no PATH)")
    ap.add_argument("--json", action="store_true", help="one JSON object per disagreement")
    ap.add_argument("--summary", action="store_true", help="counts per field and per Sisimai module only")
    args = ap.parse_args(argv)
    if not sisimai_available():
        print("sisimai_diff: Sisimai is not installed (apt-get install libsisimai-perl)", file=sys.stderr)
        return 2
    count, found = run(args.paths if args.paths and not args.corpus else default_paths())
    if not args.summary:
        for d in found:
            print(json.dumps(_as_dict(d)) if args.json else d.line())
    by_field: dict[str, int] = {}
    for d in found:
        by_field[d.field] = by_field.get(d.field, 0) + 1
    files = len({d.file for d in found})
    print(f"{count} files, {files} with a disagreement, {len(found)} disagreements: "
          + ", ".join(f"{k} {v}" for k, v in sorted(by_field.items())), file=sys.stderr)
    return 0


def _as_dict(d: Disagreement) -> dict[str, str | None]:
    return {"file": d.file, "address": d.address, "field": d.field, "maild": d.maild, "sisimai": d.sisimai, "sisimai_agent": d.sisimai_agent}


if __name__ == "__main__":
    raise SystemExit(main())
