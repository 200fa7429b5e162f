"""Malformed input never raises out of the parser and stays inside its time limit (hypothesis mutations of corpus messages)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maild.reports import ParseHints, ReportKind, parse

DATA = Path(__file__).resolve().parents[1] / "data" / "receipts"


def corpus_root() -> Path:
    # Same rule as conftest.corpus_root; repeated because seeds are needed at collection time.
    import os

    return Path(os.environ.get("MAILD_CORPUS") or Path(__file__).resolve().parents[3] / "shared" / "corpus")

HINTS = ParseHints(time_limit=2.0)


def _seeds() -> list[bytes]:
    files = sorted(DATA.glob("*.eml"))
    root = corpus_root() / "bounces"
    if root.is_dir():
        files += sorted(root.glob("sisimai/bsd/*.eml"))[::8] + sorted(root.glob("flufl/*.txt"))[::8]
    return [f.read_bytes() for f in files]


SEEDS = _seeds()


def _mutate(raw: bytes, op: str, where: float, blob: bytes) -> bytes:
    pos = int(len(raw) * where)
    head_end = raw.find(b"\n\n") if b"\n\n" in raw else min(len(raw), 200)
    if op == "truncate":
        return raw[:pos]
    if op == "flip":
        return raw[:pos] + bytes([raw[pos] ^ 0xFF]) + raw[pos + 1 :] if pos < len(raw) else raw + b"\xff"
    if op == "insert":
        return raw[:pos] + blob + raw[pos:]
    if op == "duplicate-headers":
        return raw[:head_end] + b"\n" + raw[:head_end] + raw[head_end:]
    if op == "delete-headers":
        lines = raw[:head_end].split(b"\n")
        keep = [line for i, line in enumerate(lines) if i % 3]
        return b"\n".join(keep) + raw[head_end:]
    if op == "nest":
        depth = 1 + int(where * 60)
        prefix = b"".join(b"Content-Type: multipart/mixed; boundary=\"n%d\"\n\n--n%d\n" % (i, i) for i in range(depth))
        return b"MIME-Version: 1.0\n" + prefix + raw
    if op == "huge-header":
        return b"Subject: " + b"x" * 200_000 + b"\nReferences: " + b"<a@b> " * 20_000 + b"\n" + raw
    if op == "line-ends":
        return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r")
    return raw


OPS = ["truncate", "flip", "insert", "duplicate-headers", "delete-headers", "nest", "huge-header", "line-ends"]


@pytest.mark.skipif(not SEEDS, reason="no seed messages")
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    seed=st.integers(min_value=0, max_value=max(0, len(SEEDS) - 1)),
    ops=st.lists(st.sampled_from(OPS), min_size=1, max_size=3),
    where=st.floats(min_value=0.0, max_value=1.0),
    blob=st.binary(max_size=64),
)
def test_mutated_messages_never_raise_and_respect_the_time_limit(seed: int, ops: list[str], where: float, blob: bytes) -> None:
    raw = SEEDS[seed]
    for op in ops:
        raw = _mutate(raw, op, where, blob)
    started = time.thread_time()  # the limit counts this thread's CPU time (a loaded runner's clock runs ahead of it)
    report = parse(raw, HINTS)
    # Generous: the limit only cuts work between steps, one step (the MIME parse) may overrun it.
    assert time.thread_time() - started < HINTS.time_limit * 5  # the limit is the behaviour
    assert isinstance(report.kind, ReportKind)
    assert not any(p.startswith("parser error") for p in report.problems), report.problems


@pytest.mark.parametrize(
    "raw",
    [b"", b"\x00\xff" * 100, b"Content-Type: multipart/report; boundary=x\n\n--x\n", b"From: a\r\rSubject: b\r\r\rbody", "Subject: é\n\nx".encode("latin-1")],
    ids=["empty", "binary", "unclosed-report", "cr-only", "latin1-header"],
)
def test_garbage_gives_unknown_without_raising(raw: bytes) -> None:
    assert parse(raw).kind is ReportKind.UNKNOWN


def test_input_over_max_bytes_is_truncated_and_noted() -> None:
    report = parse(b"Subject: x\n\n" + b"a" * 5000, ParseHints(max_bytes=1000))
    assert "input truncated to max_bytes" in report.problems


def test_deep_nesting_is_cut_at_max_depth() -> None:
    depth = 60
    raw = b"MIME-Version: 1.0\n" + b"".join(b"Content-Type: multipart/mixed; boundary=\"n%d\"\n\n--n%d\n" % (i, i) for i in range(depth)) + b"Content-Type: text/plain\n\nhi\n"
    report = parse(raw, ParseHints(max_depth=10))
    assert report.kind is ReportKind.UNKNOWN
    assert "MIME depth limit" in report.problems


def test_time_limit_zero_stops_work_and_says_so() -> None:
    raw = (DATA / "thunderbird-displayed.eml").read_bytes()
    report = parse(raw, ParseHints(time_limit=0.0))
    assert "time limit" in report.problems
