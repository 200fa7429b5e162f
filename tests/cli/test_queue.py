"""`maild queue` commands through maild.cli.main on a real database file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from maild import clock, rewrite, spool
from maild.cli import main
from maild.core.events import RecipientKind
from maild.store import open_for_command, transaction
from tests.delivery.conftest import KEYS, MESSAGE


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    path = tmp_path / "maild.toml"
    path.write_text('[store]\npath = "maild.db"\n[delivery]\nupstream = "maildir:outbox"\n')
    return path


def _enqueue(cfg: Path, recipients: list[str]) -> str:
    db = open_for_command(cfg.parent / "maild.db")
    headers, body = rewrite.split_message(MESSAGE)
    sub = spool.Submission(
        queue_id=spool.new_queue_id(), sender="agent@helpdesk.example.com",
        recipients=tuple(spool.SpoolRecipient(a, RecipientKind.TO) for a in recipients),
        headers=headers, body=body, received_at=clock.now(), ticket="1234",
    )
    try:
        return transaction(db, lambda db: spool.enqueue(db, sub, KEYS)).queue_id
    finally:
        db.conn.close()


def _sql(cfg: Path, query: str) -> list[tuple]:  # type: ignore[type-arg]
    db = open_for_command(cfg.parent / "maild.db")
    try:
        return db.execute(query).fetchall()
    finally:
        db.conn.close()


def _json(capsys, argv: list[str]) -> tuple[int, object]:  # type: ignore[no-untyped-def]
    code = main(argv)
    return code, json.loads(capsys.readouterr().out)


def test_list_shows_messages_with_recipients_and_states(cfg, capsys):
    qid = _enqueue(cfg, ["alice@example.net", "bob@example.net"])
    code, data = _json(capsys, ["queue", "list", "--json", "--config", str(cfg)])
    assert code == 0
    (entry,) = data
    assert entry["queue_id"] == qid and entry["sender"] == "agent@helpdesk.example.com"
    assert [(r["address"], r["state"]) for r in entry["recipients"]] == [
        ("alice@example.net", "queued"), ("bob@example.net", "queued")
    ]
    assert entry["size"] == len(MESSAGE) and entry["age_seconds"] >= 0


def test_list_text_output_names_the_message(cfg, capsys):
    qid = _enqueue(cfg, ["alice@example.net"])
    assert main(["queue", "list", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert qid in out and "alice@example.net  queued" in out


def test_empty_queue_says_so(cfg, capsys):
    assert main(["queue", "list", "--config", str(cfg)]) == 0
    assert "Mail queue is empty" in capsys.readouterr().out


def test_show_prints_headers_and_recipients(cfg, capsys):
    qid = _enqueue(cfg, ["alice@example.net"])
    code, data = _json(capsys, ["queue", "show", qid.lower(), "--json", "--config", str(cfg)])
    assert code == 0 and data["queue_id"] == qid
    assert data["headers"].startswith("From: Agent")


def test_unknown_id_exits_1_with_a_clear_message(cfg, capsys):
    for action in ("show", "hold", "release", "delete", "retry"):
        assert main(["queue", action, "NOSUCHID", "--config", str(cfg)]) == 1
        assert "no message with queue id 'NOSUCHID'" in capsys.readouterr().err
    code = main(["queue", "show", "NOSUCHID", "--json", "--config", str(cfg)])
    out = capsys.readouterr().out
    assert code == 1 and json.loads(out) == {"id": "NOSUCHID", "error": "unknown queue id"}


def test_hold_and_release_flip_the_flag(cfg, capsys):
    qid = _enqueue(cfg, ["alice@example.net"])
    assert main(["queue", "hold", qid, "--config", str(cfg)]) == 0
    assert _sql(cfg, "SELECT held FROM messages") == [(1,)]
    assert main(["queue", "release", qid, "--config", str(cfg)]) == 0
    assert _sql(cfg, "SELECT held FROM messages") == [(0,)]


def test_retry_makes_deferred_recipients_due_now(cfg, capsys):
    qid = _enqueue(cfg, ["alice@example.net"])
    db = open_for_command(cfg.parent / "maild.db")
    transaction(db, lambda db: db.execute("UPDATE recipients SET delivery_state='deferred', next_attempt_at='2999-01-01T00:00:00.000Z'"))
    db.conn.close()
    code, data = _json(capsys, ["queue", "retry", qid, "--json", "--config", str(cfg)])
    assert code == 0 and data["rescheduled"] == 1
    (next_at,) = _sql(cfg, "SELECT next_attempt_at FROM recipients")[0]
    assert next_at < "2999"
    code, data = _json(capsys, ["queue", "retry", "--all", "--json", "--config", str(cfg)])
    assert data["rescheduled"] == 1


def test_delete_fails_recipients_as_deleted_by_admin_and_drops_body(cfg, capsys):
    qid = _enqueue(cfg, ["alice@example.net", "bob@example.net"])
    code, data = _json(capsys, ["queue", "delete", qid, "--json", "--config", str(cfg)])
    assert code == 0 and data["deleted_recipients"] == 2
    assert _sql(cfg, "SELECT DISTINCT delivery_state FROM recipients") == [("failed",)]
    assert _sql(cfg, "SELECT kind, source, reason FROM events WHERE kind != 'queued'") == [
        ("failed", "admin", "deleted by admin"), ("failed", "admin", "deleted by admin")
    ]
    assert _sql(cfg, "SELECT body IS NULL, finished_at IS NOT NULL FROM messages") == [(1, 1)]
    code, data = _json(capsys, ["queue", "list", "--json", "--config", str(cfg)])
    assert data == []


@pytest.mark.parametrize("action", ["list", "show", "retry", "hold", "release", "delete"])
def test_each_subcommand_help_shows_an_example(action, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["queue", action, "--help"])
    assert exc.value.code == 0
    assert "Example: maild queue" in capsys.readouterr().out
