"""Benchmark: the report parser's wall time over fuzzed reports (mutated corpus files), in-process, with the slowest kept.

Each input is a corpus file (../shared/corpus, or $MAILD_CORPUS) changed by one seeded mutator: byte flips,
insertions and cuts, a line repeated thousands of times, a run of one character, a splice of two files, deep
MIME nesting, thousands of parts, long folded headers. `maild.reports.parse` runs in this process (the
cooperative time limit only, no worker), so the figures show what the parser itself does with hostile input;
`--worker` runs each input through maild's bounded parser instead (maild.receipts.parsework), as ingest does.

Prints N, the median, p99, p99.9 and the maximum wall time (and, in-process, CPU time: a loaded machine inflates
wall time, not CPU time), how many took longer than the limit, and the
mutators of the slowest; writes the slowest inputs to --keep (default /work/bench-cache/fuzz-slow) to profile.
`--baseline ROUNDS` times the unmutated corpus in-process and through the worker instead (what the hard limit costs).
Usage: python bench/fuzz_parse.py [-n N] [--seed S] [--limit SECONDS] [--worker] [--baseline ROUNDS] [--corpus PATH] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from maild.reports import ParseHints, parse

REPO = Path(__file__).resolve().parents[1]
HINTS = ParseHints(local_part="receipts", domain="example.com")
Mutator = Callable[[random.Random, bytes, list[bytes]], bytes]


def corpus_files(corpus: Path) -> list[Path]:
    bounces = corpus / "bounces"
    return sorted(bounces.glob("sisimai/*/*.eml")) + sorted(bounces.glob("flufl/*.txt")) + sorted((corpus / "postfix-dsn").glob("*.eml"))


def _at(rng: random.Random, data: bytes) -> int:
    return rng.randrange(len(data) + 1)


def flip(rng: random.Random, data: bytes, _: list[bytes]) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 20)):
        if out:
            out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def insert(rng: random.Random, data: bytes, _: list[bytes]) -> bytes:
    at = _at(rng, data)
    chunk = rng.choice([b"\n", b"\r\n\r\n", b"--", b"=?utf-8?b?", b"<", b">", b"@", b";", b":", b"\x00", b"=\n", b"\t"])
    return data[:at] + chunk * rng.randint(1, 50) + data[at:]


def cut(rng: random.Random, data: bytes, _: list[bytes]) -> bytes:
    a, b = sorted((_at(rng, data), _at(rng, data)))
    return data[:a] + data[b:] if rng.random() < 0.5 else data[:b]


def repeat_line(rng: random.Random, data: bytes, _: list[bytes]) -> bytes:
    lines = data.split(b"\n")
    i = rng.randrange(len(lines))
    return b"\n".join(lines[:i] + [lines[i]] * rng.choice([100, 1000, 5000, 20000]) + lines[i:])


def run_of(rng: random.Random, data: bytes, _: list[bytes]) -> bytes:
    at = _at(rng, data)
    char = rng.choice([b" ", b"a", b"<", b"@", b"=", b"-", b";", b"(", b".", b"0", b"\t", b"x@", b"a ", b": "])
    return data[:at] + char * rng.choice([1000, 10000, 100000, 500000]) + data[at:]


def repeat_chunk(rng: random.Random, data: bytes, _: list[bytes]) -> bytes:
    a = _at(rng, data)
    b = min(len(data), a + rng.randint(1, 200))
    return data[:a] + data[a:b] * rng.choice([100, 1000, 10000]) + data[b:]


def splice(rng: random.Random, data: bytes, others: list[bytes]) -> bytes:
    other = rng.choice(others)
    return data[: _at(rng, data)] + other[_at(rng, other):]


def nest(rng: random.Random, data: bytes, _: list[bytes]) -> bytes:
    depth = rng.choice([50, 500, 3000])
    head = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\n\n--b%d\n' % (i, i) for i in range(depth)
    )
    return b"Subject: nested\nMIME-Version: 1.0\n" + head + data


def many_parts(rng: random.Random, data: bytes, _: list[bytes]) -> bytes:
    parts = rng.choice([1000, 10000, 50000])
    kind = rng.choice([b"text/plain", b"message/delivery-status", b"message/rfc822", b"text/rfc822-headers"])
    body = b"".join(b"--B\nContent-Type: %s\n\nFinal-Recipient: rfc822; a%d@example.net\nAction: failed\n\n" % (kind, i) for i in range(parts))
    return b'Subject: parts\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n' + body + b"--B--\n" + data[:2000]


def long_header(rng: random.Random, data: bytes, _: list[bytes]) -> bytes:
    name = rng.choice([b"Subject", b"To", b"From", b"References", b"Received", b"X-Failed-Recipients", b"Content-Type"])
    value = rng.choice([b" <a@b>", b" =?utf-8?q?x?=", b" a@b.c,", b"; a=b", b" x"]) * rng.choice([1000, 20000, 100000])
    fold = b"\n\t" if rng.random() < 0.5 else b""
    return name + b":" + value.replace(b" ", fold + b" ", 5000) + b"\n" + data


MUTATORS: dict[str, Mutator] = {
    f.__name__: f for f in (flip, insert, cut, repeat_line, run_of, repeat_chunk, splice, nest, many_parts, long_header)
}


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def baseline(seeds: list[bytes], rounds: int) -> None:
    """What the hard limit costs an ordinary report: corpus messages per second, in-process and through the worker."""
    from maild.receipts.parsework import WorkerParser

    worker = WorkerParser(workers=1)
    for raw in seeds:  # one untimed pass each: lazy imports and regex compiles, in both processes
        parse(raw, HINTS)
        worker(raw, HINTS)
    rates: dict[str, list[float]] = {"in-process": [], "worker": []}
    for _ in range(rounds):
        for name, call in (("in-process", parse), ("worker", worker)):
            started = time.perf_counter()
            for raw in seeds:
                call(raw, HINTS)
            rates[name].append(len(seeds) / (time.perf_counter() - started))
    worker.close()
    print(f"fuzz_parse --baseline: {len(seeds)} corpus messages x {rounds} rounds, load={os.getloadavg()[0]:.2f}")
    for name, values in rates.items():
        print(f"  {name}: median {statistics.median(values):.0f} msg/s  (rounds: {', '.join(f'{v:.0f}' for v in values)})")
    print(f"  worker / in-process: {statistics.median(rates['worker']) / statistics.median(rates['in-process']):.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--limit", type=float, default=HINTS.time_limit, help="report inputs slower than this")
    ap.add_argument("--worker", action="store_true", help="parse through maild's bounded worker parser")
    ap.add_argument("--corpus", type=Path, default=Path(os.environ.get("MAILD_CORPUS", REPO.parent / "shared" / "corpus")))
    ap.add_argument("--baseline", type=int, default=0, metavar="ROUNDS",
                    help="only time the unmutated corpus in-process and through the worker, ROUNDS interleaved rounds")
    ap.add_argument("--keep", type=Path, default=Path("/work/bench-cache/fuzz-slow"))
    args = ap.parse_args()
    seeds = [f.read_bytes() for f in corpus_files(args.corpus)]
    if not seeds:
        raise SystemExit(f"no corpus files under {args.corpus}")
    run: Callable[[bytes], object] = lambda raw: parse(raw, HINTS)  # noqa: E731
    timeouts = 0
    if args.worker:
        from maild.receipts.parsework import ParseTimeout, WorkerParser

        worker = WorkerParser()

        def run(raw: bytes) -> object:
            nonlocal timeouts
            try:
                return worker(raw, HINTS)
            except ParseTimeout:
                timeouts += 1
                return None

    if args.baseline:
        baseline(seeds, args.baseline)
        return
    rng = random.Random(args.seed)
    times: list[tuple[float, str, int]] = []
    cpus: list[float] = []  # this process's CPU time per input: what load on a shared machine does not inflate
    args.keep.mkdir(parents=True, exist_ok=True)
    for i in range(args.n):
        name = rng.choice(sorted(MUTATORS))
        raw = MUTATORS[name](rng, rng.choice(seeds), seeds)
        started, cpu_started = time.perf_counter(), time.process_time()
        run(raw)
        took = time.perf_counter() - started
        cpus.append(time.process_time() - cpu_started)
        times.append((took, name, i))
        if took > args.limit / 4:
            (args.keep / f"{args.seed}-{i}-{name}.eml").write_bytes(raw)
    walls = [t for t, _, _ in times]
    over = [t for t in times if t[0] > args.limit]
    print(f"fuzz_parse: N={len(walls)} seed={args.seed} worker={args.worker} load={os.getloadavg()[0]:.2f}")
    print(f"  median {statistics.median(walls) * 1000:.1f} ms  p99 {quantile(walls, 0.99) * 1000:.1f} ms  "
          f"p99.9 {quantile(walls, 0.999) * 1000:.1f} ms  max {max(walls):.2f} s")
    print(f"  over {args.limit:.1f} s: {len(over)}" + (f"  parse_timeout: {timeouts}" if args.worker else ""))
    if not args.worker:
        print(f"  CPU: median {statistics.median(cpus) * 1000:.1f} ms  p99 {quantile(cpus, 0.99) * 1000:.1f} ms  "
              f"p99.9 {quantile(cpus, 0.999) * 1000:.1f} ms  max {max(cpus):.2f} s  over {args.limit:.1f} s: "
              f"{sum(c > args.limit for c in cpus)}")
    for took, name, i in sorted(times, reverse=True)[:8]:
        print(f"  slow: {took:.2f} s  {name}  input {i}")


if __name__ == "__main__":
    main()
