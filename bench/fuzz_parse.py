"""Benchmark: the report parser's wall time over fuzzed reports (mutated corpus files), in-process, with the slowest kept.

Each input is a corpus file (../shared/corpus, or $MAILD_CORPUS) changed by one seeded mutator: byte flips,
insertions and cuts, a line repeated thousands of times, a run of one character, a splice of two files, deep
MIME nesting, thousands of parts, long folded headers. Input i of seed S comes from its own generator, so a run
can be split over processes (`--start`) and any input rebuilt alone. `maild.reports.parse` runs in this process
(the cooperative time limit only, no worker), so the figures show what the parser itself does with hostile input;
`--worker` runs each input through ingest's bounded parser instead (maild.receipts.parsework), `--stream` through
`maild parse`'s (maild.receipts.parsestream: one child, killed at each input's deadline).

Prints the median, p99, p99.9 and the maximum wall time (and CPU time: a loaded machine inflates wall time, not
CPU time), how many took longer than 1 s and than the limit, the parse timeouts, and the mutators of the slowest;
writes the slowest inputs to --keep (default /work/bench-cache/fuzz-slow) to profile, and with `--times FILE` one
line per input (index, mutator, wall s, CPU s; for a timeout "timeout" and the seconds to the kill).
`--baseline ROUNDS` times the unmutated corpus instead: in-process against the worker, and `maild parse`'s loop
before the hard limit (in-process) against now (the forked child streaming its lines): what the hard limit costs.
Usage: python bench/fuzz_parse.py [-n N] [--start I] [--seed S] [--limit SECONDS] [--worker | --stream]
       [--times FILE] [--baseline ROUNDS] [--corpus PATH] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from maild import liblogs, logs
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


def fuzzed(seeds: list[bytes], seed: int, i: int) -> tuple[str, bytes]:
    """Input `i` of run `seed` and its mutator's name; each input has its own generator, so any process can rebuild input i."""
    rng = random.Random(f"{seed}/{i}")
    name = rng.choice(sorted(MUTATORS))
    return name, MUTATORS[name](rng, rng.choice(seeds), seeds)


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def baseline(files: list[Path], rounds: int) -> None:
    """What the hard limit costs an ordinary report: corpus messages per second, in-process and through each bounded path.

    `maild parse` before (read, parse, encode each file in this process) against `maild parse` now (the same in one
    forked child streaming its lines back, maild.receipts.parsestream), and `parse` against the pooled worker
    that ingest uses (a round trip per message, maild.receipts.parsework).
    """
    from maild.cli import parse as command
    from maild.cli.visible import json_line
    from maild.receipts.parsework import WorkerParser

    seeds = [f.read_bytes() for f in files]
    names = [str(f) for f in files]
    worker = WorkerParser(workers=1)

    def in_process() -> None:
        for raw in seeds:
            parse(raw, HINTS)

    def through_worker() -> None:
        for raw in seeds:
            worker(raw, HINTS)

    def command_before() -> None:  # the command's loop before the hard limit: everything in this process
        for name in names:
            json_line(command.parse_file(name, command._read(name), HINTS))

    def command_now() -> None:
        for _ in command.results(names, HINTS):
            pass

    runs = {"in-process": in_process, "worker": through_worker, "parse command before": command_before,
            "parse command now": command_now}
    for call in runs.values():  # one untimed pass each: lazy imports and regex compiles, in every process
        call()
    rates: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, call in runs.items():
            started = time.perf_counter()
            call()
            rates[name].append(len(seeds) / (time.perf_counter() - started))
    worker.close()
    print(f"fuzz_parse --baseline: {len(seeds)} corpus messages x {rounds} rounds, load={os.getloadavg()[0]:.2f}")
    for name, values in rates.items():
        print(f"  {name}: median {statistics.median(values):.0f} msg/s  (rounds: {', '.join(f'{v:.0f}' for v in values)})")
    median = {name: statistics.median(values) for name, values in rates.items()}
    print(f"  worker / in-process: {median['worker'] / median['in-process']:.2f}")
    print(f"  parse command now / before: {median['parse command now'] / median['parse command before']:.2f}")


def through_stream(seeds: list[bytes], args: argparse.Namespace) -> None:
    """The inputs through `maild parse`'s hard limit (maild.receipts.parsestream): each input is built in the child.

    For a parse that finished, its wall and CPU time in the child; for one killed at the deadline, the time this
    process saw from the previous answer to the kill (building the input included: an upper bound).
    """
    from maild.receipts import parsestream
    from maild.receipts.parsework import GRACE, ParseTimeout

    def work(item: tuple[str, bytes]) -> str:
        started, cpu_started = time.perf_counter(), time.process_time()
        report = parse(item[1], HINTS)
        return f"{item[0]}\t{time.perf_counter() - started:.4f}\t{time.process_time() - cpu_started:.4f}\t{report.kind}"

    deadline = HINTS.time_limit + GRACE
    walls: list[float] = []
    cpus: list[float] = []
    timeouts: list[tuple[float, int, str]] = []
    failed: list[tuple[int, str]] = []
    log = args.times.open("w", buffering=1) if args.times else None
    last = time.perf_counter()
    results = parsestream.stream(args.n - args.start, lambda k: fuzzed(seeds, args.seed, args.start + k), work, deadline)
    for i, result in enumerate(results, args.start):
        now = time.perf_counter()
        if isinstance(result, str):
            name, wall, cpu, _kind = result.split("\t")
            walls.append(float(wall))
            cpus.append(float(cpu))
        elif isinstance(result, ParseTimeout):
            name = fuzzed(seeds, args.seed, i)[0]
            timeouts.append((now - last, i, name))
            wall, cpu = "timeout", f"{now - last:.4f}"  # killed this long after the previous answer
        else:
            name = fuzzed(seeds, args.seed, i)[0]
            failed.append((i, f"{name}: {result}"))
            wall = cpu = "failed"
        if log is not None:
            log.write(f"{i}\t{name}\t{wall}\t{cpu}\n")
        last = now
    print(f"fuzz_parse --stream: inputs {args.start}..{args.n - 1} seed={args.seed} deadline={deadline:.1f} s load={os.getloadavg()[0]:.2f}")
    print(f"  finished: {len(walls)}  wall median {statistics.median(walls) * 1000:.1f} ms  p99 {quantile(walls, 0.99) * 1000:.1f} ms"
          f"  max {max(walls):.2f} s  over 1.0 s: {sum(w > 1.0 for w in walls)}  over {args.limit:.1f} s: {sum(w > args.limit for w in walls)}")
    print(f"  CPU median {statistics.median(cpus) * 1000:.1f} ms  p99 {quantile(cpus, 0.99) * 1000:.1f} ms  max {max(cpus):.2f} s")
    print(f"  parse_timeout: {len(timeouts)}" + (f"  answer within {max(t for t, _, _ in timeouts):.2f} s of the previous one at most"
                                                   if timeouts else ""))
    print(f"  child died otherwise: {len(failed)}")
    for took, i, name in sorted(timeouts, reverse=True):
        print(f"  timeout: input {i} {name}, killed {took:.2f} s after the previous answer")
    for i, why in failed:
        print(f"  failed: input {i} {why}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--start", type=int, default=0, help="begin at input START (a run split over processes)")
    ap.add_argument("--limit", type=float, default=HINTS.time_limit, help="report inputs slower than this")
    ap.add_argument("--worker", action="store_true", help="parse through maild's bounded worker parser")
    ap.add_argument("--stream", action="store_true", help="parse as `maild parse` does: in order in one child killed at each deadline")
    ap.add_argument("--corpus", type=Path, default=Path(os.environ.get("MAILD_CORPUS", REPO.parent / "shared" / "corpus")))
    ap.add_argument("--baseline", type=int, default=0, metavar="ROUNDS",
                    help="only time the unmutated corpus in-process and through the worker, ROUNDS interleaved rounds")
    ap.add_argument("--keep", type=Path, default=Path("/work/bench-cache/fuzz-slow"))
    ap.add_argument("--times", type=Path, help="also write one line per input: index, mutator, wall s, CPU s")
    args = ap.parse_args()
    logs.configure("warning", "json")  # as every command does: a library's log record or traceback is one JSON line
    liblogs.route_command_output()
    files = corpus_files(args.corpus)
    if not files:
        raise SystemExit(f"no corpus files under {args.corpus}")
    if args.baseline:
        baseline(files, args.baseline)
        return
    seeds = [f.read_bytes() for f in files]
    if args.stream:
        through_stream(seeds, args)
        return
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

    times: list[tuple[float, str, int]] = []
    cpus: list[float] = []  # this process's CPU time per input: what load on a shared machine does not inflate
    args.keep.mkdir(parents=True, exist_ok=True)
    log = args.times.open("w", buffering=1) if args.times else None
    for i in range(args.start, args.n):
        name, raw = fuzzed(seeds, args.seed, i)
        started, cpu_started = time.perf_counter(), time.process_time()
        run(raw)
        took = time.perf_counter() - started
        cpus.append(time.process_time() - cpu_started)
        times.append((took, name, i))
        if log is not None:
            log.write(f"{i}\t{name}\t{took:.4f}\t{cpus[-1]:.4f}\n")
        if took > args.limit / 4:
            (args.keep / f"{args.seed}-{i}-{name}.eml").write_bytes(raw)
    walls = [t for t, _, _ in times]
    over = [t for t in times if t[0] > args.limit]
    print(f"fuzz_parse: inputs {args.start}..{args.n - 1} seed={args.seed} worker={args.worker} load={os.getloadavg()[0]:.2f}")
    print(f"  median {statistics.median(walls) * 1000:.1f} ms  p99 {quantile(walls, 0.99) * 1000:.1f} ms  "
          f"p99.9 {quantile(walls, 0.999) * 1000:.1f} ms  max {max(walls):.2f} s")
    print(f"  over 1.0 s: {sum(t > 1.0 for t in walls)}  over {args.limit:.1f} s: {len(over)}" + (f"  parse_timeout: {timeouts}" if args.worker else ""))
    if not args.worker:
        print(f"  CPU: median {statistics.median(cpus) * 1000:.1f} ms  p99 {quantile(cpus, 0.99) * 1000:.1f} ms  "
              f"p99.9 {quantile(cpus, 0.999) * 1000:.1f} ms  max {max(cpus):.2f} s  over 1.0 s: "
              f"{sum(c > 1.0 for c in cpus)}  over {args.limit:.1f} s: {sum(c > args.limit for c in cpus)}")
    for took, name, i in sorted(times, reverse=True)[:8]:
        print(f"  slow: {took:.2f} s  {name}  input {i}")


if __name__ == "__main__":
    main()
