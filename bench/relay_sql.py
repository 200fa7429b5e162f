"""Benchmark helper: run `python -m maild ...` counting the SQL statements of every connection, dumped as JSON at exit.

Not maild code, and not for CPU figures (the trace callback costs CPU of its
own): bench/relay.py runs the daemon through it with --count-sql, in rounds
of their own, and prints statements per message. Each statement is counted
under its text with literals and numbers folded, so a statement run with many
values counts once per run (an `executemany` once per row, as SQLite runs it;
statements FTS5 runs inside show up under their own text).
SIGUSR1 writes the counts so far to FILE.1, FILE.2, ... (the daemon runs on).
Usage: MAILD_SQL_COUNTS=FILE python bench/relay_sql.py -m maild run ...
"""

from __future__ import annotations

import atexit
import collections
import json
import os
import re
import runpy
import signal
import sqlite3
import sys
import threading

OUT = os.environ["MAILD_SQL_COUNTS"]
counts: collections.Counter[str] = collections.Counter()
lock = threading.Lock()
_connect = sqlite3.connect


def _key(statement: str) -> str:
    text = re.sub(r"\s+", " ", statement.strip())
    text = re.sub(r"'[^']*'", "?", text)
    return re.sub(r"\b\d+\b", "N", text)[:160]


def connect(*args: object, **kwargs: object) -> sqlite3.Connection:
    conn = _connect(*args, **kwargs)  # type: ignore[arg-type]

    def trace(statement: str) -> None:
        key = _key(statement)
        with lock:
            counts[key] += 1

    conn.set_trace_callback(trace)
    return conn


snapshots = [0]


def dump(path: str = OUT) -> None:
    with lock:
        text = json.dumps(counts.most_common(), indent=0)
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def snapshot(signum: int, frame: object) -> None:
    """SIGUSR1: the counts so far to OUT.1, OUT.2...; bench/relay.py takes one before and one after its span."""
    snapshots[0] += 1
    dump(f"{OUT}.{snapshots[0]}")


sqlite3.connect = connect  # type: ignore[assignment]
signal.signal(signal.SIGUSR1, snapshot)
atexit.register(dump)
sys.argv = ["maild", *sys.argv[3:]] if sys.argv[1:3] == ["-m", "maild"] else sys.argv
runpy.run_module("maild", run_name="__main__", alter_sys=True)
