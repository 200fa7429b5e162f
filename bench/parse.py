"""Benchmark: messages per second of maild's report parser over the bounce corpus, next to flufl.bounce's scan_message alone
and, when Debian's libsisimai-perl is installed, Sisimai 4.25 (one perl process per round, start-up included).

Usage: python bench/parse.py [--rounds N] [--corpus PATH]   (PATH: the `corpus` folder; default ../shared/corpus or $MAILD_CORPUS)
"""

from __future__ import annotations

import argparse
import email
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from email.policy import compat32
from pathlib import Path

from flufl.bounce import scan_message

from maild.reports import parse

REPO = Path(__file__).resolve().parents[1]


def corpus_files(corpus: Path) -> list[Path]:
    bounces = corpus / "bounces"
    return sorted(bounces.glob("sisimai/*/*.eml")) + sorted(bounces.glob("flufl/*.txt")) + sorted((corpus / "postfix-dsn").glob("*.eml"))


def load(corpus: Path) -> list[bytes]:
    return [f.read_bytes() for f in corpus_files(corpus)]


SISIMAI = "use Sisimai; for my $f (@ARGV) { Sisimai->make($f, delivered => 1) }"


def sisimai_available() -> bool:
    return shutil.which("perl") is not None and subprocess.run(
        ["perl", "-MSisimai", "-e", "1"], capture_output=True
    ).returncode == 0


def sisimai_rate(files: list[Path]) -> float:
    """Sisimai over the same files in one perl process, start-up included (as the issue quotes it)."""
    started = time.perf_counter()
    subprocess.run(["perl", "-e", SISIMAI, *map(str, files)], check=True, capture_output=True)
    return len(files) / (time.perf_counter() - started)


def rate(messages: list[bytes], fn) -> float:
    started = time.perf_counter()
    for raw in messages:
        fn(raw)
    return len(messages) / (time.perf_counter() - started)


def flufl_alone(raw: bytes) -> object:
    # flufl.bounce takes a parsed message; parsing with the same fast policy keeps the comparison fair.
    try:
        return scan_message(email.message_from_bytes(raw, policy=compat32))
    except Exception:
        return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--corpus", type=Path, default=Path(os.environ.get("MAILD_CORPUS") or REPO.parent / "shared" / "corpus"))
    args = ap.parse_args()
    messages = load(args.corpus)
    if not messages:
        print(f"no messages under {args.corpus}", file=sys.stderr)
        return 1
    rate(messages, parse)  # warm up imports and regex caches
    files = corpus_files(args.corpus)
    with_sisimai = sisimai_available()
    ours, theirs, sis = [], [], []
    for _ in range(args.rounds):
        ours.append(rate(messages, parse))
        theirs.append(rate(messages, flufl_alone))
        if with_sisimai:
            sis.append(sisimai_rate(files))
    m_ours, m_theirs = statistics.median(ours), statistics.median(theirs)
    print(f"python {platform.python_version()}, {len(messages)} messages, {args.rounds} rounds, one core")
    print(f"maild.reports.parse        median {m_ours:8.0f} msg/s  (min {min(ours):.0f}, max {max(ours):.0f})")
    print(f"flufl.bounce scan_message  median {m_theirs:8.0f} msg/s  (min {min(theirs):.0f}, max {max(theirs):.0f})")
    print(f"ratio maild / flufl        {m_ours / m_theirs:.2f}")
    if sis:
        m_sis = statistics.median(sis)
        print(f"Sisimai 4.25 (perl, start-up included) median {m_sis:8.0f} msg/s  (min {min(sis):.0f}, max {max(sis):.0f})")
        print(f"ratio maild / Sisimai      {m_ours / m_sis:.2f}")
    else:
        print("Sisimai: not installed (Debian: apt-get install libsisimai-perl), not measured")
    return 0


if __name__ == "__main__":
    sys.exit(main())
