"""`maild ingest` (pipe transport) and `maild quarantine` end to end: real parser, real SQLite file, exit codes."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from maild.cli import main
from tests.receipts import mail
from tests.receipts.conftest import event_kinds, send, write_config

ROOT = Path(__file__).resolve().parents[2]


def ingest(monkeypatch, capsys, cfg: Path, raw: bytes, *extra: str) -> tuple[int, dict | None]:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw)))
    code = main(["ingest", "--config", str(cfg), "--json", *extra, "-"])
    out = capsys.readouterr().out.strip()
    return code, json.loads(out) if out else None


def test_pipe_records_bounce_and_exits_0(db, config_file, monkeypatch, capsys):
    sent = send(db, "alice@example.net")
    code, out = ingest(monkeypatch, capsys, config_file, mail.dsn(sent.token("alice@example.net"), "alice@example.net"))
    assert (code, out["applied"], out["kind"]) == (0, 1, "dsn")
    assert db.execute("SELECT kind, source, via, status FROM events WHERE kind = 'bounced'").fetchone() == (
        "bounced", "dsn", "pipe", "5.1.1")


def test_pipe_same_report_twice_records_once(db, config_file, monkeypatch, capsys):
    sent = send(db, "alice@example.net")
    raw = mail.mdn(sent.token("alice@example.net"), "alice@example.net")
    ingest(monkeypatch, capsys, config_file, raw)
    code, out = ingest(monkeypatch, capsys, config_file, raw)
    assert (code, out["applied"], out["duplicates"]) == (0, 0, 1)
    assert event_kinds(db) == ["displayed"]


def test_pipe_spam_is_quarantined_and_exits_0(db, config_file, monkeypatch, capsys):
    code, out = ingest(monkeypatch, capsys, config_file, mail.spam())
    assert (code, out["quarantine"]) == (0, "not_a_report")


def test_pipe_locked_database_exits_75_and_records_nothing(tmp_path, db, db_path, monkeypatch, capsys):
    sent = send(db, "alice@example.net")
    cfg = write_config(tmp_path, db_path, busy="0.1s")
    locker = sqlite3.connect(db_path, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")
    try:
        code, _ = ingest(monkeypatch, capsys, cfg, mail.dsn(sent.token("alice@example.net"), "alice@example.net"))
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert code == 75
    assert event_kinds(db) == []


def test_pipe_missing_key_file_exits_75(tmp_path, db, config_file, monkeypatch, capsys):
    (tmp_path / "token.key").unlink()
    code, _ = ingest(monkeypatch, capsys, config_file, mail.spam())
    assert code == 75


def test_pipe_unreadable_file_exits_66(config_file, tmp_path):
    assert main(["ingest", "--config", str(config_file), str(tmp_path / "missing.eml")]) == 66


def test_pipe_as_a_process_reads_stdin(db, config_file):
    sent = send(db, "alice@example.net")
    raw = mail.dsn(sent.token("alice@example.net"), "alice@example.net", action="delivered", status="2.0.0")
    proc = subprocess.run(
        [sys.executable, "-m", "maild", "ingest", "--config", str(config_file), "-"],
        input=raw, capture_output=True, cwd=ROOT, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b""
    assert event_kinds(db) == ["delivered"]


def test_quarantine_list_show_and_retry_after_key_restored(tmp_path, db, config_file, monkeypatch, capsys):
    sent = send(db, "alice@example.net")
    raw = mail.mdn(sent.token("alice@example.net"), "alice@example.net")
    key = tmp_path / "token.key"
    good = key.read_text()
    key.write_text("b:" + "11" * 32 + "\n")  # the key that signed the token is lost
    code, out = ingest(monkeypatch, capsys, config_file, raw)
    assert out["quarantine"] == "token_unknown_key"
    qid = out["quarantine_id"]

    assert main(["quarantine", "list", "--json", "--config", str(config_file)]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(i["id"], i["reason"], i["state"]) for i in listed] == [(qid, "token_unknown_key", "held")]

    assert main(["quarantine", "show", str(qid), "--raw", "--config", str(config_file)]) == 0
    assert capsys.readouterr().out.encode() == raw

    key.write_text(good)  # key restored
    assert main(["quarantine", "retry", str(qid), "--json", "--config", str(config_file)]) == 0
    retried = json.loads(capsys.readouterr().out)
    assert (retried["released"], retried["applied"]) == (True, 1)
    assert event_kinds(db) == ["displayed"]
    assert main(["quarantine", "list", "--json", "--config", str(config_file)]) == 0
    assert capsys.readouterr().out.strip() == ""


def test_quarantine_show_unknown_id_exits_1(config_file, capsys):
    assert main(["quarantine", "show", "999", "--json", "--config", str(config_file)]) == 1
    assert json.loads(capsys.readouterr().out) == {"id": 999, "error": "unknown quarantine id"}
