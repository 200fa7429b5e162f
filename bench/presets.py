"""Cost of helpdesk presets at intake: read_incoming() per message with preset "auto" against "generic", side by side.

Two message sets: the helpdesk replies of tests/presets/helpdesk_mail.py (one of
each product, FreeScout's HTML body included) and a plain generic reply (headers
of today's X-Ticket-ID form, 2 KB body). Rounds interleave auto and generic so
both see the same machine load; the figure is the median per set.

    cd maild && .venv/bin/python bench/presets.py --rounds 7
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from maild import config  # noqa: E402
from maild.intake.incoming import read_incoming  # noqa: E402
from tests.presets import helpdesk_mail as hm  # noqa: E402

PLAIN = (
    b"From: Agent <agent@helpdesk.example.com>\r\nTo: b@example.net\r\nCc: c@example.net\r\n"
    b"Subject: Re: [#5] your invoice\r\nX-Ticket-ID: 5\r\nX-Department: Billing\r\nMessage-ID: <x@helpdesk.example.com>\r\n"
    b"Date: Tue, 1 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n" + b"body line\r\n" * 200
)


def rate(messages: list[bytes], policy: config.TrackingSettings, repeat: int) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        for raw in messages:
            read_incoming(raw, "s@helpdesk.example.com", ["b@example.net", "c@example.net"], policy)
    return repeat * len(messages) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    base = Path("/tmp/maild-bench.toml")
    policies = {name: config.parse({"tracking": {"preset": name}}, base).tracking for name in ("auto", "generic")}
    sets = {"helpdesk replies": [f().raw for f in hm.ALL], "generic reply": [PLAIN] * len(hm.ALL)}
    for label, messages in sets.items():
        runs: dict[str, list[float]] = {"auto": [], "generic": []}
        for _ in range(args.rounds):
            for name, policy in policies.items():
                runs[name].append(rate(messages, policy, args.repeat))
        auto, generic = statistics.median(runs["auto"]), statistics.median(runs["generic"])
        print(f"{label:17s} auto {auto:7.0f} msg/s  generic {generic:7.0f} msg/s  auto/generic {auto / generic:.2f}x")


if __name__ == "__main__":
    main()
