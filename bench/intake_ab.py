"""Micro-benchmark: the per-message intake functions of two checkouts, side by side (timeit, alternating).

The message is the one bench/relay.py has smtp-source send (10 KB, subject "[#1234] benchmark", one recipient),
under the settings relay.py writes (preset auto, track_without_ticket). Each round runs a fresh interpreter per
checkout (PYTHONPATH=CHECKOUT, this interpreter), alternating this/against, and times `incoming.find` (the preset
match) and `read_incoming` (all of intake's reading of a message) with timeit's best of 5; the medians over the
rounds and their ratio are printed. Both sides must give the same `Incoming`, or the run stops.

Usage: python bench/intake_ab.py --against CHECKOUT [--this CHECKOUT] [--rounds N] [--number N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, timeit
from pathlib import Path
from maild import config, rewrite
from maild.intake import incoming
body = b"".join(b"La de da de da %d.\r\n" % (i % 10) for i in range(540))
raw = (b"From: <agent@helpdesk.example.com>\r\nTo: <customer@example.net>\r\n"
       b"Date: Wed, 2 Dec 2026 16:00:00 +0000 (UTC)\r\nMessage-Id: <20261202160000.4A1B2C3D@bench.example>\r\n"
       b"Subject: [#1234] benchmark\r\n\r\n" + body)
policy = config.parse({"tracking": {"track_without_ticket": True}}, Path("/tmp/maild-bench.toml")).tracking
headers, rest = rewrite.split_message(raw)
parsed = list(rewrite.fields(headers))
number = int(sys.argv[1])
find = min(timeit.repeat(lambda: incoming.find(parsed, rest, policy), number=number, repeat=5)) / number
read = min(timeit.repeat(lambda: incoming.read_incoming(raw, "agent@helpdesk.example.com", ["customer@example.net"],
                                                        policy), number=number, repeat=5)) / number
answer = repr(incoming.read_incoming(raw, "agent@helpdesk.example.com", ["customer@example.net"], policy))
print(json.dumps({"find": find, "read": read, "answer": answer}))
"""


def run(checkout: Path, number: int) -> dict[str, float | str]:
    out = subprocess.run([sys.executable, "-c", CHILD, str(number)], capture_output=True, text=True, check=True,
                         cwd="/tmp", env={"PYTHONPATH": str(checkout), "PATH": "/usr/bin:/bin"})
    result: dict[str, float | str] = json.loads(out.stdout)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--this", type=Path, default=REPO)
    parser.add_argument("--against", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--number", type=int, default=5000)
    args = parser.parse_args()
    sides: dict[str, list[dict[str, float | str]]] = {"this": [], "against": []}
    for _ in range(args.rounds):
        for name, checkout in (("this", args.this), ("against", args.against)):
            sides[name].append(run(checkout, args.number))
    if sides["this"][0]["answer"] != sides["against"][0]["answer"]:
        print("answers differ:", sides["this"][0]["answer"], sides["against"][0]["answer"], sep="\n")
        return 1
    for key in ("find", "read"):
        this = statistics.median(float(r[key]) for r in sides["this"])
        against = statistics.median(float(r[key]) for r in sides["against"])
        print(f"{key:5s} this {this * 1e6:7.2f} us  against {against * 1e6:7.2f} us  this/against {this / against:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
