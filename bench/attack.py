"""Benchmark: maild under attack — sessions held by an idle flood, the helpdesk's latency during it, memory with N big messages.

Three measurements on a real `maild run` (a subprocess, JSON log to a file):
  flood    `ulimit -n 1024`, allowed_networks 127.0.0.1/32; F idle sockets from 127.0.0.2 (a foreign address),
           then the helpdesk's client from 127.0.0.1 sends K messages one after another: each transaction's
           latency (connect to 250 after DATA) with and without the flood, side by side; plus /healthz.
  memory   N clients send a 35 MB message at once (SIZE= declared, as Postfix does); maild's peak RSS
           (VmHWM) and how many got 250 vs 452 4.3.1, with the default data_memory_budget and with one
           large enough for all N (side by side: what the budget saves).

Usage: python bench/attack.py [--flood 1100] [--messages 50] [--big 6] [--big-mb 35] [--only flood|memory]
       MAILD_REPO=/path/to/other/checkout python bench/attack.py   # the same load on another version
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(os.environ.get("MAILD_REPO", Path(__file__).resolve().parent.parent))  # another checkout: before/after
ATTACKER = "127.0.0.2"
MESSAGE = b"From: agent@helpdesk.example.com\r\nTo: alice@example.net\r\nSubject: [#1] hi\r\n\r\n" + (b"x" * 76 + b"\r\n") * 26


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_maild(work: Path, intake_extra: str = "", nofile: int | None = None) -> tuple[subprocess.Popen[bytes], int, int]:
    smtp, http = free_port(), free_port()
    (work / "maild.toml").write_text(
        f"""[store]
path = "maild.db"
[intake]
listen = ["127.0.0.1:{smtp}"]
allowed_networks = ["127.0.0.1/32"]
{intake_extra}
[delivery]
upstream = "maildir:outbox"
[tracking]
key_file = "token.key"
[[receipts]]
url = "maildir:receipts"
[http]
listen = "127.0.0.1:{http}"
token_file = "api.token"
[log]
level = "warning"
format = "json"
"""
    )

    def limit() -> None:
        if nofile:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    log = (work / "maild.log").open("ab")
    proc = subprocess.Popen([sys.executable, "-m", "maild", "run", "--config", "maild.toml"], cwd=work, stderr=log,
                            stdout=subprocess.DEVNULL, preexec_fn=limit, env={**os.environ, "PYTHONPATH": str(REPO)})
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", smtp), 1) as s:
                if s.recv(100).startswith(b"220"):
                    break
        except OSError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError("maild did not start; see " + str(work / "maild.log"))
        time.sleep(0.05)
    return proc, smtp, http


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def transaction(port: int, body: bytes, size: int | None = None) -> tuple[float, bytes]:
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def reply() -> bytes:
        while True:
            line = await reader.readline()
            if line[3:4] != b"-":
                return line

    await reply()
    param = b" SIZE=%d" % size if size else b""
    answer = b""
    for command in (b"EHLO bench\r\n", b"MAIL FROM:<agent@helpdesk.example.com>" + param + b"\r\n",
                    b"RCPT TO:<alice@example.net>\r\n", b"DATA\r\n"):
        writer.write(command)
        answer = await reply()
        if answer[:1] not in (b"2", b"3"):
            break
    if answer.startswith(b"354"):
        writer.write(body + b".\r\n")
        await writer.drain()
        answer = await reply()
    writer.write(b"QUIT\r\n")
    writer.close()
    return time.perf_counter() - started, answer


async def hold(port: int) -> tuple[bytes, asyncio.StreamWriter | None]:
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port, local_addr=(ATTACKER, 0)), 20)
        line = await asyncio.wait_for(reader.readline(), 20)
    except (OSError, TimeoutError) as exc:
        return f"failed: {exc!r}".encode(), None
    if line.startswith(b"220"):
        return line, writer
    writer.close()
    return line, None


async def latencies(port: int, n: int) -> tuple[list[float], int]:
    """Latencies of the transactions that got 250, and how many did not (refused, or no answer in 30 s)."""
    out, failed = [], 0
    for _ in range(n):
        try:
            seconds, answer = await asyncio.wait_for(transaction(port, MESSAGE), 30)
        except (OSError, TimeoutError):
            failed += 1
            continue
        if answer.startswith(b"250"):
            out.append(seconds * 1000)
        else:
            failed += 1
    return out, failed


def healthz_ms(port: int) -> tuple[int, float]:
    started = time.perf_counter()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=20) as r:
        return r.status, (time.perf_counter() - started) * 1000


def summary(result: tuple[list[float], int]) -> str:
    ms, failed = result
    if len(ms) < 2:
        return f"{len(ms)} served, {failed} not served"
    q = statistics.quantiles(ms, n=10)
    return f"median {statistics.median(ms):.1f} ms, p90 {q[-1]:.1f} ms, {failed} not served"


async def flood(args: argparse.Namespace) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, args.flood * 2 + 256), hard))
    with tempfile.TemporaryDirectory() as tmp:
        proc, smtp, http = start_maild(Path(tmp), nofile=1024)
        try:
            before = await latencies(smtp, args.messages)
            results = []
            for start in range(0, args.flood, 200):
                results += await asyncio.gather(*(hold(smtp) for _ in range(start, min(args.flood, start + 200))))
            held = [w for _, w in results if w is not None]
            refused = sum(1 for line, _ in results if line.startswith(b"421 4.7.0"))
            during = await latencies(smtp, args.messages)
            try:
                status, health = await asyncio.to_thread(healthz_ms, http)
            except OSError as exc:
                status, health = 0, float("nan")
                print(f"  /healthz failed: {exc!r}")
            log_lines = sum(1 for _ in (Path(tmp) / "maild.log").open())
            for w in held:
                w.close()
        finally:
            stop(proc)
    print(f"flood: {args.flood} idle sockets from {ATTACKER} under ulimit -n 1024: {len(held)} held (220), "
          f"{refused} refused (421 4.7.0), {args.flood - len(held) - refused} other")
    print(f"  helpdesk client from 127.0.0.1, {args.messages} transactions each: without flood {summary(before)}; "
          f"during flood {summary(during)}")
    print(f"  /healthz during the flood: {status} in {health:.1f} ms; log lines written: {log_lines}")


async def memory(args: argparse.Namespace) -> None:
    size = args.big_mb * 1024 * 1024
    line = b"y" * 998 + b"\r\n"
    body = b"From: agent@helpdesk.example.com\r\nTo: alice@example.net\r\nSubject: big\r\n\r\n" + line * (size // len(line) - 1)
    for label, extra in (("default data_memory_budget (128MB)", ""),
                         (f"budget for all {args.big} ({args.big * args.big_mb + 10} MB)", f'data_memory_budget = "{args.big * args.big_mb + 10}MB"')):
        with tempfile.TemporaryDirectory() as tmp:
            try:
                proc, smtp, _ = start_maild(Path(tmp), extra)
            except RuntimeError:
                print(f"memory, {label}: this version does not start with that setting")
                continue
            try:
                base = peak_rss_mb(proc.pid)
                outcomes = await asyncio.gather(*(transaction(smtp, body, size=len(body) + 3) for _ in range(args.big)))
                peak = peak_rss_mb(proc.pid)
            finally:
                stop(proc)
        codes = [a[:3].decode() for _, a in outcomes]
        print(f"memory, {args.big} concurrent {args.big_mb} MB messages, {label}: peak RSS {peak:.0f} MB "
              f"(idle {base:.0f} MB); replies {json.dumps({c: codes.count(c) for c in sorted(set(codes))})}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flood", type=int, default=1100)
    parser.add_argument("--messages", type=int, default=50)
    parser.add_argument("--big", type=int, default=6)
    parser.add_argument("--big-mb", type=int, default=35)
    parser.add_argument("--only", choices=["flood", "memory"])
    args = parser.parse_args()
    print(f"maild from {REPO}; load average before: {os.getloadavg()[0]:.2f}")
    if args.only != "memory":
        asyncio.run(flood(args))
    if args.only != "flood":
        asyncio.run(memory(args))
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
