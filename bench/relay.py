"""Benchmark: recipients relayed per second through maild, next to minimal pass-through proxies (and Postfix).

For each recipient count, N messages of 10 KB go over 20 concurrent sessions
(Postfix's smtp-source, one connection per session kept open) into each
contender, which relays them to one fast counting sink (bench/relay_sink.py).
The clock runs from the first connection until the sink has counted the last
recipient. Contenders, side by side in every round:
  maild          `maild run` (a subprocess), durable spool (WAL, synchronous=FULL), one tracked copy per recipient
  proxy-once     aiosmtpd -> aiosmtplib, forwards each message once (no durability, no tracking)
  proxy-per-rcpt the same, one copy per recipient as maild does
  postfix        a private Postfix instance relaying to the sink (--postfix; needs root)

Usage: python bench/relay.py [--messages 2000] [--rounds 5] [--recipients 1,5] [--postfix] [--maild-repo DIR]
                              [--against DIR] [--count-sql] [--data-memory-budget 4GB] [--event-loop L] [--against-event-loop L]
                              [--batches N] [--warmup N] [--until quiet|sink] [--together] [--pin-daemon CPUS] [--pin-load CPUS]

To settle a 2-3% question between two checkouts (stop 26; see BENCHMARKS.md):
  python bench/relay.py --rounds 10 --batches 4 --warmup 200 --together --pin-daemon 0 --pin-load 1 \
      --only maild,maild-against --messages 1000 --recipients 1 --against /work/wt-old
On this shared 2-core host a daemon's CPU seconds per message move by ±15-20% from one second to the next with what
else runs, so two daemons measured one after the other differ by that much even when they are the same code.
--together sends each batch into both daemons at once and --pin-daemon puts both on the same core, so whatever
else the machine does falls on both alike: an A/A batch pair then agrees to about 1% (in turn: ±10-15%).

For maild it also prints the daemon's CPU seconds (user + system, all threads; /proc's schedstat, in nanoseconds)
per 1000 messages, from the batch's first connection until the daemon has gone quiet after the sink counted the last
recipient (--until quiet: the outcome writes that follow the relay belong to a message's cost), after --warmup
messages that are not measured (first-message imports and caches).
--against DIR adds a contender "maild-against": another checkout's maild (with its own .venv), run right after
maild in every round, so the two are measured interleaved under the same load; it prints the per-round CPU
ratios and their geometric mean with a 95% confidence interval (over rounds: each round starts fresh daemons).
`--maild-repo DIR --against DIR` runs one checkout against itself (A/A): the spread of its per-round ratios
is the noise a difference between two checkouts has to stand out of. --data-memory-budget applies to maild only (an
old checkout may refuse the key); so does --event-loop (daemon.event_loop), with --against-event-loop for the other.
--count-sql adds one more maild run per recipient count, after the timed rounds, with the daemon under
bench/relay_sql.py (a trace of every SQL statement, which costs CPU of its own, so that run is not timed):
statements per message over the measured span, and the most frequent ones.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Iterator

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PY = sys.executable
MAILD = {"repo": REPO, "python": Path(PY)}  # which checkout's maild runs (--maild-repo), with its own venv if it has one
INTAKE_EXTRA: list[str] = []  # more [intake] lines for maild's configuration (--data-memory-budget)
TAIL_EXTRA: list[str] = []  # more tables at the end of maild's configuration (--event-loop: a [daemon] table)
SMTP_SOURCE = "/usr/sbin/smtp-source"
MESSAGE_BYTES = 10 * 1024


DAEMON: list[int] = []  # the pid of the maild daemon being measured (its CPU time is read from /proc)
PIN: dict[str, list[int]] = {"daemon": [], "load": []}  # --pin-daemon / --pin-load: CPUs for each maild, and for sink and smtp-source
SQL_TRACE: list[Path] = []  # set: the daemon runs under relay_sql.py, counting its statements into this file
PROFILE: list[Path] = []  # set: the daemon runs under relay_profile.py, its event loop profiled into this file
PROFILE_KEEP: list[Path] = []  # --profile-keep: where the pstats files are copied for a later look


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process, all its threads (Linux /proc); None where there is none."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_ns_seconds(pid: int) -> float | None:
    """The same, to the nanosecond: the sum of /proc/PID/task/*/schedstat's run time over the live threads.

    /proc/PID/stat counts in clock ticks (10 ms: up to 1.4% of a 1,000-message batch at 1 recipient, twice per
    span); schedstat is the scheduler's own sum_exec_runtime. It misses a thread that exited within the span,
    so `span_cpu` checks it against the tick count and falls back to that if they disagree.
    """
    total = 0
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return None
    for task in tasks:
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return total / 1e9


def loop_cpu(pid: int) -> float:
    """CPU seconds of a process's main thread (maild's event loop), from its schedstat."""
    try:
        return int(Path(f"/proc/{pid}/task/{pid}/schedstat").read_text().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return 0.0


def cpu_reading(pid: int) -> tuple[float, float] | None:
    """(ticks-based, schedstat-based) CPU seconds of a process; see span_cpu."""
    coarse, fine = cpu_seconds(pid), cpu_ns_seconds(pid)
    return None if coarse is None or fine is None else (coarse, fine)


def span_cpu(before: tuple[float, float], after: tuple[float, float]) -> float:
    """CPU seconds between two readings: schedstat's, unless a thread's exit made it disagree with the ticks."""
    coarse, fine = after[0] - before[0], after[1] - before[1]
    if abs(fine - coarse) <= 0.03 + 0.02 * coarse:
        return fine
    print(f"  note: schedstat {fine:.3f} s against /proc/PID/stat {coarse:.3f} s (a thread ended?): the ticks used",
          file=sys.stderr)
    return coarse


def affinity(cpus: list[int]) -> Callable[[], None] | None:
    """A preexec_fn pinning a child (and the threads it will start) to CPUS (--pin-daemon, --pin-load)."""
    return (lambda: os.sched_setaffinity(0, cpus)) if cpus else None


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds of each thread of a process: "loop" (the main thread) and "tid N" (Python names no OS thread)."""
    out: dict[str, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out["loop" if task.name == str(pid) else f"tid {task.name}"] = (int(fields[11]) + int(fields[12])) / tick
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port_file(path: Path, proc: subprocess.Popen, timeout: float = 20) -> int:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{proc.args} did not start")
        time.sleep(0.02)
    return int(path.read_text())


def wait_greeting(port: int, proc: subprocess.Popen | None, timeout: float = 30) -> None:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), 1) as s:
                if s.recv(100).startswith(b"220"):
                    s.sendall(b"QUIT\r\n")
                    return
        except OSError:
            pass
        if (proc is not None and proc.poll() is not None) or time.monotonic() > deadline:
            raise RuntimeError(f"nothing answers on port {port}")
        time.sleep(0.05)


class SinkClient:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.file = self.sock.makefile("rb")
        self.file.readline()

    def command(self, line: bytes) -> bytes:
        self.sock.sendall(line + b"\r\n")
        return self.file.readline()

    def count(self) -> int:
        return int(self.command(b"XCOUNT").split()[1])

    def reset(self) -> None:
        self.command(b"XRESET")


@contextmanager
def process(args: list[str], workdir: Path, name: str, env: dict[str, str] | None = None,
            cpus: list[int] | None = None) -> Iterator[subprocess.Popen]:  # type: ignore[type-arg]
    log = open(workdir / f"{name}.log", "wb")
    proc = subprocess.Popen(args, cwd=workdir, stdout=log, stderr=subprocess.STDOUT, env=env,
                            preexec_fn=affinity(cpus or []))
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


# ------------------------------------------------------------------ contenders


def checkout_python(repo: Path) -> Path:
    venv_python = repo / ".venv" / "bin" / "python"
    return venv_python if venv_python.exists() else Path(PY)


def maild_from(repo: Path, extra: list[str], tail: list[str] | None = None) -> Callable[[Path, int], AbstractContextManager[int]]:
    """Another checkout's maild (--against), with its own venv, its own [intake] extras and its own trailing tables."""

    @contextmanager
    def start(workdir: Path, sink_port: int) -> Iterator[int]:
        saved = dict(MAILD), list(INTAKE_EXTRA), list(TAIL_EXTRA)
        MAILD.update(repo=repo, python=checkout_python(repo))
        INTAKE_EXTRA[:] = extra
        TAIL_EXTRA[:] = tail or []
        with ExitStack() as stack:
            try:
                port = stack.enter_context(maild(workdir, sink_port))
            finally:  # put back once started: the other maild may start while this one runs (--batches)
                MAILD.update(saved[0])
                INTAKE_EXTRA[:] = saved[1]
                TAIL_EXTRA[:] = saved[2]
            yield port

    return start


@contextmanager
def maild(workdir: Path, sink_port: int) -> Iterator[int]:
    port = free_port()
    (workdir / "maild.toml").write_text(
        f"""[store]
path = "maild.db"
[intake]
listen = ["127.0.0.1:{port}"]
{"".join(line + chr(10) for line in INTAKE_EXTRA)}[delivery]
upstream = "smtp://127.0.0.1:{sink_port}"
concurrency = 20
[tracking]
key_file = "token.key"
track_without_ticket = true
[[receipts]]
url = "maildir:receipts"
[http]
listen = ""
[log]
level = "warning"
format = "json"
{"".join(line + chr(10) for line in TAIL_EXTRA)}"""
    )
    env = {**os.environ, "PYTHONPATH": str(MAILD["repo"])}
    wrapper: list[str] = []
    if SQL_TRACE:
        wrapper = [str(HERE / "relay_sql.py")]
        env["MAILD_SQL_COUNTS"] = str(SQL_TRACE[0])
    elif PROFILE:
        wrapper = [str(HERE / "relay_profile.py")]
        env["MAILD_PROFILE"] = str(PROFILE[0])
    with process([str(MAILD["python"]), *wrapper, "-m", "maild", "run", "--config", "maild.toml"], workdir, "maild", env,
                 PIN["daemon"]) as proc:
        wait_greeting(port, proc)
        DAEMON[:] = [proc.pid]
        try:
            yield port
        finally:
            DAEMON.clear()


def proxy(mode: str) -> Callable[[Path, int], AbstractContextManager[int]]:
    @contextmanager
    def start(workdir: Path, sink_port: int) -> Iterator[int]:
        port_file = workdir / "proxy.port"
        with process([PY, str(HERE / "relay_proxy.py"), mode, str(port_file), str(sink_port)], workdir, f"proxy-{mode}") as proc:
            port = wait_port_file(port_file, proc)
            wait_greeting(port, proc)
            yield port

    return start


@contextmanager
def postfix(workdir: Path, sink_port: int) -> Iterator[int]:
    sys.path.insert(0, str(HERE))
    from relay_postfix import private_postfix  # root only; kept apart

    with private_postfix(workdir, sink_port) as port:
        try:
            wait_greeting(port, None)
        except RuntimeError:
            raise RuntimeError(f"private postfix did not start; see {workdir}/postfix.log") from None
        yield port


# ------------------------------------------------------------------ one measurement


def sql_snapshot(pid: int, n: int) -> dict[str, int]:
    """Ask the traced daemon for its statement counts so far (SIGUSR1 -> FILE.n) and read them."""
    path = Path(f"{SQL_TRACE[0]}.{n}")
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + 20
    while not path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"the traced daemon wrote no {path}")
        time.sleep(0.01)
    return {str(k): int(v) for k, v in json.loads(path.read_text())}


def print_sql(before: dict[str, int], after: dict[str, int], messages: int) -> None:
    spent = {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}
    print(f"  SQL statements per message: {sum(spent.values()) / messages:.2f} "
          f"(daemon traced by bench/relay_sql.py; {sum(spent.values())} over {messages} messages)")
    for text, n in sorted(spent.items(), key=lambda kv: -kv[1])[:12]:
        print(f"  {n / messages:7.3f}  {text}")


def print_profile(path: Path, messages: int) -> None:
    import pstats

    deadline = time.monotonic() + 30
    while not path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"the profiled daemon wrote no {path}")
        time.sleep(0.05)
    gc_file = Path(f"{path}.gc.json")
    if gc_file.exists():
        gc_info = json.loads(gc_file.read_text())
        print(f"  modules {gc_info['modules']}, objects {gc_info['objects']} (frozen {gc_info['frozen']}); collections "
              + ", ".join(f"gen {g}: {n} in {t * 1000:.0f} ms" for g, (n, t) in sorted(gc_info["collections"].items())))
    if PROFILE_KEEP:
        import shutil

        PROFILE_KEEP[0].mkdir(parents=True, exist_ok=True)
        shutil.copy(path, PROFILE_KEEP[0] / path.name)
    stats = pstats.Stats(str(path))
    total = sum(v[2] for v in stats.stats.values())  # type: ignore[attr-defined]
    print(f"  event-loop thread, profiled: {total / messages * 1000:.2f} s per 1000 messages (tottime; profiler overhead included)")
    rows = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:15]  # type: ignore[attr-defined]
    for (file, line, name), (_, calls, tottime, _cum, _) in rows:
        print(f"  {tottime / messages * 1e6:8.1f} us/msg {calls / messages:7.2f} calls/msg  {name} ({Path(file).name}:{line})")


LOOP_CPU: dict[str, float] = {}  # --together: each contender's event-loop thread CPU per 1000 messages, last batch
SETTLE = {"until": "quiet", "warmup": 0}  # --until, --warmup: where a measured span ends, what precedes it


@dataclass
class Running:
    """One started contender: where it listens and, for a maild, the daemon's pid."""

    port: int
    daemon: int | None


@contextmanager
def running(start: Callable[[Path, int], AbstractContextManager[int]], sink_port: int) -> Iterator[Running]:
    with tempfile.TemporaryDirectory(prefix="maild-bench-") as tmp:
        DAEMON.clear()  # another maild of this round may be up: only the pid this start sets is this contender's
        with start(Path(tmp), sink_port) as port:
            yield Running(port, DAEMON[0] if DAEMON else None)


def send(port: int, messages: int, recipients: int, sessions: int) -> None:
    subprocess.run(
        [SMTP_SOURCE, "-d", "-s", str(sessions), "-m", str(messages), "-l", str(MESSAGE_BYTES),
         "-r", str(recipients), "-S", "[#1234] benchmark", "-f", "agent@helpdesk.example.com",
         "-t", "customer@example.net", f"127.0.0.1:{port}"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600, preexec_fn=affinity(PIN["load"]),
    )


def wait_sink(sink: SinkClient, expected: int) -> int:
    deadline = time.monotonic() + 600
    while (count := sink.count()) < expected:
        if time.monotonic() > deadline:
            raise RuntimeError(f"sink counted {count} of {expected}")
        time.sleep(0.002)
    return count


def wait_quiet(pid: int, window: float = 0.1, idle: float = 0.002) -> None:
    """Until the daemon has spent under IDLE CPU seconds in WINDOW: the outcome writes, journal and index work that
    follow the sink's 250 are part of each message's cost (--until quiet), and were cut off at a varying point when
    the span ended at the sink's count (--until sink, the figures before stop 26)."""
    deadline = time.monotonic() + 30
    last = cpu_ns_seconds(pid) or 0.0
    while time.monotonic() < deadline:
        time.sleep(window)
        now = cpu_ns_seconds(pid) or 0.0
        if now - last < idle:
            return
        last = now


def batch(run: Running, sink: SinkClient, messages: int, recipients: int, sessions: int,
          report_threads: bool = True) -> tuple[float, float | None]:
    """One measured batch into a started contender: recipients per second (first connection to the sink's count of
    the last recipient) and, for a maild, the daemon's CPU seconds per 1000 messages (user + system, all threads)."""
    expected = messages * recipients
    sink.reset()
    daemon = run.daemon
    sql_before = sql_snapshot(daemon, 1) if daemon and SQL_TRACE else None
    if daemon and PROFILE:
        os.kill(daemon, signal.SIGUSR1)  # the profiler starts
    cpu_before = cpu_reading(daemon) if daemon else None
    threads_before = thread_cpu(daemon) if daemon else {}
    started = time.perf_counter()
    send(run.port, messages, recipients, sessions)
    count = wait_sink(sink, expected)
    elapsed = time.perf_counter() - started
    if daemon and SETTLE["until"] == "quiet" and not PROFILE and not SQL_TRACE:
        wait_quiet(daemon)
    cpu_after = cpu_reading(daemon) if daemon else None
    cpu: float | None = None
    if daemon and report_threads:
        after = thread_cpu(daemon)
        spent = {k: (v - threads_before.get(k, 0.0)) / messages * 1000 for k, v in after.items()}
        busiest = sorted(spent.items(), key=lambda kv: -kv[1])
        print("  daemon CPU by thread, s per 1000 messages (the busiest other thread is the store's writer): "
              + ", ".join(f"{k} {v:.2f}" for k, v in busiest[:4] if v >= 0.005)
              + f"; {len(busiest)} threads")
    if cpu_before is not None and cpu_after is not None:
        cpu = span_cpu(cpu_before, cpu_after) / messages * 1000
    if daemon and PROFILE:
        os.kill(daemon, signal.SIGUSR1)  # the profiler stops and writes its file
        print_profile(PROFILE[0], messages)
    if daemon and sql_before is not None:
        time.sleep(0.5)  # the last outcomes' writes land after the sink counted
        print_sql(sql_before, sql_snapshot(daemon, 2), messages)
    if count > expected:
        print(f"  note: sink counted {count} > {expected} (duplicates)", file=sys.stderr)
    return expected / elapsed, cpu


def batch_together(runs: dict[str, Running], order: list[str], sink: SinkClient, messages: int, recipients: int,
                   sessions: int) -> dict[str, tuple[float, float | None]]:
    """--together: one batch into every started contender at once (smtp-source each, SESSIONS each), so that the
    machine's other load, which moves a shared host's CPU seconds per message by ±15% from one second to the next,
    falls on both sides of a ratio alike. Each rate is that contender's messages over its own smtp-source's run (the
    others' running meanwhile); each CPU figure its daemon's from the common start until it went quiet. The senders
    start in ORDER (ABBA from one batch to the next, as the batches in turn are)."""
    sink.reset()
    before = {name: cpu_reading(run.daemon) if run.daemon else None for name, run in runs.items()}
    loops = {name: loop_cpu(run.daemon) if run.daemon else 0.0 for name, run in runs.items()}
    started = time.perf_counter()
    senders = {name: subprocess.Popen(
        [SMTP_SOURCE, "-d", "-s", str(sessions), "-m", str(messages), "-l", str(MESSAGE_BYTES),
         "-r", str(recipients), "-S", "[#1234] benchmark", "-f", "agent@helpdesk.example.com",
         "-t", "customer@example.net", f"127.0.0.1:{runs[name].port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=affinity(PIN["load"])) for name in order}
    elapsed: dict[str, float] = {}
    for name, sender in senders.items():
        _, err = sender.communicate(timeout=600)
        if sender.returncode:
            raise RuntimeError(f"smtp-source into {name} failed: {err.decode(errors='replace')}")
        elapsed[name] = time.perf_counter() - started
    wait_sink(sink, messages * recipients * len(runs))
    out: dict[str, tuple[float, float | None]] = {}
    for name, run in runs.items():
        cpu: float | None = None
        if run.daemon:
            if SETTLE["until"] == "quiet":
                wait_quiet(run.daemon)
            after, first = cpu_reading(run.daemon), before[name]
            if after is not None and first is not None:
                cpu = span_cpu(first, after) / messages * 1000
            # the event-loop thread's share, so that a ratio can be placed on the loop or on the writer
            LOOP_CPU[name] = (loop_cpu(run.daemon) - loops[name]) / messages * 1000
        out[name] = (messages * recipients / elapsed[name], cpu)
    return out


def warm(run: Running, sink: SinkClient, recipients: int, sessions: int) -> None:
    """--warmup N: N messages before the measured span (first-message imports, caches, the heap's first growth)."""
    if SETTLE["warmup"] > 0:
        sink.reset()
        send(run.port, SETTLE["warmup"], recipients, sessions)
        wait_sink(sink, SETTLE["warmup"] * recipients)
        if run.daemon:
            wait_quiet(run.daemon)


def measure(start: Callable[[Path, int], AbstractContextManager[int]], sink: SinkClient, sink_port: int,
            messages: int, recipients: int, sessions: int) -> tuple[float, float | None]:
    """A contender started for one batch only (the untimed --count-sql and --profile runs)."""
    with running(start, sink_port) as run:
        warm(run, sink, recipients, sessions)
        return batch(run, sink, messages, recipients, sessions)


def geometric(ratios: list[float]) -> tuple[float, float, float]:
    """Geometric mean of RATIOS and its 95% confidence interval (Student's t over the logs; the rounds, each its
    own pair of fresh daemons, are the independent samples)."""
    logs = [math.log(r) for r in ratios]
    mean = statistics.fmean(logs)
    if len(logs) < 2:
        return math.exp(mean), math.nan, math.nan
    half = T95.get(len(logs) - 1, 1.96) * statistics.stdev(logs) / math.sqrt(len(logs))
    return math.exp(mean), math.exp(mean - half), math.exp(mean + half)


T95 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26, 10: 2.23, 11: 2.20, 12: 2.18,
       13: 2.16, 14: 2.14, 15: 2.13, 16: 2.12, 17: 2.11, 18: 2.10, 19: 2.09, 20: 2.09, 22: 2.07, 24: 2.06, 26: 2.06,
       28: 2.05, 30: 2.04, 40: 2.02, 60: 2.00}
T95.update({df: T95[df - 1] for df in (21, 23, 25, 27, 29)})
T95.update({df: T95[30] for df in range(31, 40)} | {df: T95[40] for df in range(41, 60)})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--recipients", default="1,5")
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--postfix", action="store_true", help="also a private Postfix relay (root)")
    parser.add_argument("--only", default="", help="comma-separated contenders to run")
    parser.add_argument("--maild-repo", type=Path, default=REPO,
                        help="run another checkout's maild (with its .venv if it has one), e.g. /work/wt-old")
    parser.add_argument("--count-sql", action="store_true",
                        help="after the timed rounds, one untimed maild run per recipient count counting SQL statements")
    parser.add_argument("--data-memory-budget", default="",
                        help="maild's intake.data_memory_budget (e.g. 4GB; default: maild's own). smtp-source declares no "
                             "SIZE=, so each DATA reserves max_message_size: the default 128MB admits 3 transfers at once. "
                             "A checkout older than that setting refuses the key")
    parser.add_argument("--profile", action="store_true",
                        help="after the timed rounds, one untimed run per maild and recipient count with its event loop under "
                             "cProfile (bench/relay_profile.py): the top functions by own time per message")
    parser.add_argument("--profile-keep", type=Path, default=None, help="with --profile: copy the pstats files here")
    parser.add_argument("--against", type=Path, default=None,
                        help="also run this checkout's maild in every round, right after maild (e.g. /work/wt-old)")
    parser.add_argument("--event-loop", default="", choices=["", "auto", "uvloop", "asyncio"],
                        help="maild's daemon.event_loop (default: maild's own, auto). A checkout older than that setting "
                             "refuses the key")
    parser.add_argument("--against-event-loop", default="", choices=["", "auto", "uvloop", "asyncio"],
                        help="the same for the --against checkout (an A/A run, or uvloop against asyncio)")
    parser.add_argument("--batches", type=int, default=1,
                        help="measured batches of --messages per contender and round, ABBA-interleaved, with every "
                             "contender's daemon up for the whole round (a round's CPU figure is its batches' mean)")
    parser.add_argument("--warmup", type=int, default=0,
                        help="messages sent to each contender at the start of a round, before its first measured batch")
    parser.add_argument("--until", default="quiet", choices=["quiet", "sink"],
                        help="a span ends when the daemon has gone quiet after the sink counted the last recipient "
                             "(default), or at that count (`sink`, the figures before stop 26)")
    parser.add_argument("--together", action="store_true",
                        help="each batch goes into every contender at once (one smtp-source each, --sessions each) "
                             "instead of one after the other")
    parser.add_argument("--pin-daemon", default="", help="CPUs (e.g. 0) every maild daemon is pinned to (taskset)")
    parser.add_argument("--pin-load", default="", help="CPUs (e.g. 1) the sink and smtp-source are pinned to")
    parser.add_argument("--no-threads", dest="threads", action="store_false",
                        help="do not print each batch's CPU by thread")
    args = parser.parse_args()
    SETTLE.update(until=args.until, warmup=args.warmup)
    PIN["daemon"] = [int(c) for c in args.pin_daemon.split(",") if c]
    PIN["load"] = [int(c) for c in args.pin_load.split(",") if c]
    if args.data_memory_budget:
        INTAKE_EXTRA.append(f'data_memory_budget = "{args.data_memory_budget}"')
    if args.event_loop:
        TAIL_EXTRA[:] = ["[daemon]", f'event_loop = "{args.event_loop}"']
    against_tail = ["[daemon]", f'event_loop = "{args.against_event_loop}"'] if args.against_event_loop else []
    if args.profile_keep:
        PROFILE_KEEP[:] = [args.profile_keep]
    MAILD["repo"] = args.maild_repo.resolve()
    MAILD["python"] = checkout_python(MAILD["repo"])
    contenders: dict[str, Callable[[Path, int], AbstractContextManager[int]]] = {
        "maild": maild,
        **({"maild-against": maild_from(args.against.resolve(), [], against_tail)} if args.against else {}),
        "proxy-once": proxy("once"),
        "proxy-per-rcpt": proxy("per-recipient"),
    }
    if args.postfix:
        contenders["postfix"] = postfix
    if args.only:
        contenders = {k: v for k, v in contenders.items() if k in args.only.split(",")}
    counts = [int(x) for x in args.recipients.split(",")]
    results: dict[tuple[str, int], list[float]] = {}
    cpus: dict[tuple[str, int], list[float]] = {}  # each maild's CPU seconds per 1000 messages, by recipient count
    batch_rates: dict[tuple[str, int, int], list[float]] = {}  # by contender, recipient count and round: each batch's
    batch_cpus: dict[tuple[str, int, int], list[float]] = {}
    batch_loops: dict[tuple[str, int, int], list[float]] = {}  # --together: the event-loop thread's part of batch_cpus
    with tempfile.TemporaryDirectory(prefix="maild-sink-") as tmp:
        port_file = Path(tmp) / "sink.port"
        with process([PY, str(HERE / "relay_sink.py"), str(port_file)], Path(tmp), "sink", None, PIN["load"]) as sink_proc:
            sink_port = wait_port_file(port_file, sink_proc)
            sink = SinkClient(sink_port)
            pair = 0  # the how-manieth maild/maild-against pair of batches: odd ones run maild-against first (ABBA)
            for round_ in range(1, args.rounds + 1):
                for rcpts in counts:
                    with ExitStack() as stack:  # every contender up for the whole round
                        # started in the other order every other round: in A/A runs the daemon started first came
                        # out 0.4-0.6% dearer over 10 rounds (stop 26), whichever checkout it was
                        entry = list(contenders.items())[:: -1 if round_ % 2 == 0 else 1]
                        runs = {name: stack.enter_context(running(start, sink_port)) for name, start in entry}
                        for run in runs.values():
                            warm(run, sink, rcpts, args.sessions)
                        for b in range(args.batches):
                            order = list(runs)
                            if pair % 2 == 1 and "maild-against" in runs:  # ABBA: neither maild always runs first
                                i, j = order.index("maild"), order.index("maild-against")
                                order[i], order[j] = order[j], order[i]
                            pair += 1
                            together = batch_together(runs, order, sink, args.messages, rcpts, args.sessions) \
                                if args.together else {}
                            for name in order:
                                rate, cpu = together[name] if args.together else batch(
                                    runs[name], sink, args.messages, rcpts, args.sessions, report_threads=args.threads)
                                batch_rates.setdefault((name, rcpts, round_), []).append(rate)
                                if cpu is not None:
                                    batch_cpus.setdefault((name, rcpts, round_), []).append(cpu)
                                if args.together and name in LOOP_CPU:
                                    batch_loops.setdefault((name, rcpts, round_), []).append(LOOP_CPU[name])
                                print(f"round {round_}{f'.{b + 1}' if args.batches > 1 else ''} rcpts={rcpts} {name:<15} "
                                      f"{rate:8.0f} recipients/s ({rate / rcpts:6.0f} messages/s)"
                                      + (f", daemon CPU {cpu:.3f} s per 1000 messages" if cpu is not None else ""),
                                      flush=True)
                    for name in contenders:
                        results.setdefault((name, rcpts), []).append(statistics.fmean(batch_rates[(name, rcpts, round_)]))
                        if (name, rcpts, round_) in batch_cpus:
                            cpus.setdefault((name, rcpts), []).append(statistics.fmean(batch_cpus[(name, rcpts, round_)]))
            if args.count_sql and "maild" in contenders:
                SQL_TRACE[:] = [Path(tmp) / "sql.json"]
                for rcpts in counts:
                    for name in ("maild", "maild-against"):
                        if name not in contenders:
                            continue
                        print(f"untimed traced run rcpts={rcpts} {name}:", flush=True)
                        for old in Path(tmp).glob("sql.json*"):
                            old.unlink()
                        measure(contenders[name], sink, sink_port, args.messages, rcpts, args.sessions)
                SQL_TRACE.clear()
            if args.profile:
                for rcpts in counts:
                    for name in ("maild", "maild-against"):
                        if name not in contenders:
                            continue
                        PROFILE[:] = [Path(tmp) / f"profile-{name}-{rcpts}.pstats"]
                        print(f"untimed profiled run rcpts={rcpts} {name}:", flush=True)
                        measure(contenders[name], sink, sink_port, args.messages, rcpts, args.sessions)
                PROFILE.clear()
    print()
    print(f"machine: {platform.machine()} {os.cpu_count()} cores (shared), Python {platform.python_version()}, "
          f"{args.messages} messages of {MESSAGE_BYTES // 1024} KB, {args.sessions} sessions, {args.rounds} rounds of "
          f"{args.batches} batch(es), warm-up {args.warmup}, until {args.until}, {'together' if args.together else 'in turn'}, pinned daemon {PIN['daemon'] or '-'} "
          f"load {PIN['load'] or '-'}")
    print(f"{'contender':<16}{'rcpts':>6}{'median rcpt/s':>15}{'msg/s':>8}{'min':>8}{'max':>8}")
    medians: dict[tuple[str, int], float] = {}
    for (name, rcpts), rates in results.items():
        med = statistics.median(rates)
        medians[(name, rcpts)] = med
        print(f"{name:<16}{rcpts:>6}{med:>15.0f}{med / rcpts:>8.0f}{min(rates):>8.0f}{max(rates):>8.0f}")
    for (name, rcpts), values in cpus.items():
        print(f"{name} daemon CPU (user+sys, all threads), rcpts={rcpts}: median {statistics.median(values):.2f} s "
              f"per 1000 messages (min {min(values):.2f}, max {max(values):.2f})")
    for rcpts in counts:
        if ("maild-against", rcpts) in cpus:
            ratios = [a / b for a, b in zip(cpus[("maild", rcpts)], cpus[("maild-against", rcpts)])]
            gmean, low, high = geometric(ratios)
            print(f"rcpts={rcpts}: daemon CPU maild / maild-against per round (interleaved): "
                  + ", ".join(f"{r:.3f}x" for r in ratios) + f"; median {statistics.median(ratios):.3f}x; "
                  f"geometric mean {gmean:.3f}x, 95% CI {low:.3f}-{high:.3f} ({len(ratios)} rounds, "
                  f"±{(high / low - 1) / 2 * 100:.1f}%)")
            if ("maild", rcpts, 1) in batch_loops and ("maild-against", rcpts, 1) in batch_loops:
                def part(name: str, r: int, loop: bool, rcpts: int = rcpts) -> float:
                    cpu, lp = sum(batch_cpus[(name, rcpts, r)]), sum(batch_loops[(name, rcpts, r)])
                    return lp if loop else cpu - lp
                for label, loop in (("event-loop thread", True), ("other threads (the store's writer)", False)):
                    part_ratios = [part("maild", r, loop) / part("maild-against", r, loop) for r in range(1, args.rounds + 1)]
                    g, lo, hi = geometric(part_ratios)
                    print(f"rcpts={rcpts}: {label} maild / maild-against: geometric mean {g:.3f}x, 95% CI {lo:.3f}-{hi:.3f} "
                          f"(maild {statistics.fmean(part('maild', r, loop) for r in range(1, args.rounds + 1)) / args.batches:.3f} s "
                          f"per 1000 messages)")
            if args.batches > 1:
                within = [a / b for r in range(1, args.rounds + 1)
                          for a, b in zip(batch_cpus[("maild", rcpts, r)], batch_cpus[("maild-against", rcpts, r)])]
                print(f"rcpts={rcpts}: single batch pairs (within rounds) {min(within):.3f}-{max(within):.3f}x, "
                      f"geometric sd {math.exp(statistics.stdev(math.log(x) for x in within)):.3f}")
    print(f"maild from {MAILD['repo']}" + (f", maild-against from {args.against.resolve()}" if args.against else "")
          + f"; load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print()
    for rcpts in counts:
        if ("maild", rcpts) not in medians:
            continue
        for other in contenders:
            if other != "maild" and (other, rcpts) in medians:
                # ratio of medians, and the median of per-round ratios (both side by side)
                per_round = [a / b for a, b in zip(results[("maild", rcpts)], results[(other, rcpts)])]
                print(f"rcpts={rcpts}: maild / {other:<15} = {medians[('maild', rcpts)] / medians[(other, rcpts)]:.2f}x "
                      f"(median of per-round ratios {statistics.median(per_round):.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
