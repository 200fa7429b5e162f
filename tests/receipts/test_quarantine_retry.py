"""`maild quarantine retry` of items whose bytes parse to another fingerprint than the one they were held under (a cut
item, an unparseable one): the retried row itself is released, or held again, never a second row; and the parse
hints come from one function everywhere. Real SQLite files, the real CLI."""

from __future__ import annotations

import json

from maild.cli import main
from maild.receipts import quarantine as q
from maild.receipts.ingest import hints_from, ingest_report
from maild.reports import parse
from maild.reports.clues import ParseHints, hints_for
from maild.store import transaction
from maild.tokens import KeySet
from tests.receipts import mail
from tests.receipts.conftest import KEYS, T0, event_kinds, send

OTHER_KEYS = KeySet({"b": b"\x11" * 32}, "b")  # the key that signed the tokens is lost
HINTS = hints_for("receipts@helpdesk.example.com", "+")


def hold(db, raw: bytes, *, keys=KEYS, max_raw: int = q.MAX_RAW_BYTES, parse_error: str | None = None) -> int:
    report = None if parse_error else parse(raw, HINTS)
    out = transaction(db, lambda d: ingest_report(d, raw, report, keys, "imap", T0, ref="7:1", max_raw=max_raw,
                                                  parse_error=parse_error))
    assert out.quarantine is not None
    return out.quarantine_id


def retry(config_file, capsys, qid: int) -> dict:
    assert main(["quarantine", "retry", str(qid), "--json", "--config", str(config_file)]) == 0
    return json.loads(capsys.readouterr().out)


def rows(db) -> list[tuple]:
    return db.execute("SELECT id, state, reason, size, truncated, seen FROM quarantine ORDER BY id").fetchall()


def test_retry_of_a_truncated_item_that_now_applies_releases_that_item(db, config_file, capsys):
    sent = send(db, "alice@example.net")
    dsn = mail.dsn(sent.token("alice@example.net"), "alice@example.net")
    raw = dsn + b"epilogue " * 400 + b"\r\n"  # everything after the report is cut off in the quarantine
    qid = hold(db, raw, keys=OTHER_KEYS, max_raw=len(dsn) + 10)
    assert rows(db) == [(qid, "held", "token_unknown_key", len(raw), 1, 1)]
    stored = q.get(db, qid)[1]
    assert parse(stored, HINTS).fingerprint != parse(raw, HINTS).fingerprint  # the cut bytes are another report

    retried = retry(config_file, capsys, qid)  # the config's key file holds the right key
    assert (retried["released"], retried["applied"]) == (True, 1)
    assert rows(db) == [(qid, "released", "token_unknown_key", len(raw), 1, 1)]  # that row; no other
    assert event_kinds(db) == ["bounced"]


def test_retry_of_an_unparseable_item_that_now_parses_releases_that_item(db, config_file, capsys):
    sent = send(db, "alice@example.net")
    raw = mail.mdn(sent.token("alice@example.net"), "alice@example.net")
    qid = hold(db, raw, parse_error="RecursionError: a parser bug, since fixed")  # held as sha256 of the bytes
    assert q.get(db, qid)[0].fingerprint.startswith("sha256:")

    retried = retry(config_file, capsys, qid)
    assert (retried["released"], retried["applied"]) == (True, 1)
    assert rows(db) == [(qid, "released", "unparseable", len(raw), 0, 1)]
    assert event_kinds(db) == ["displayed"]
    assert main(["quarantine", "list", "--json", "--config", str(config_file)]) == 0
    assert capsys.readouterr().out.strip() == ""


def test_retry_of_a_truncated_item_that_still_fails_updates_that_item(db, config_file, capsys):
    raw = mail.spam() + b"more spam " * 300 + b"\r\n"
    qid = hold(db, raw, max_raw=200)
    retried = retry(config_file, capsys, qid)
    assert (retried["released"], retried["quarantine"]) == (False, "not_a_report")
    # the same row, held again: full size and truncation kept, seen twice; no row for the cut bytes' fingerprint
    assert rows(db) == [(qid, "held", "not_a_report", len(raw), 1, 2)]
    item, stored = q.get(db, qid)
    assert stored == raw[:200] and item.retried_at is not None


def test_retry_of_an_unparseable_item_that_fails_otherwise_takes_the_new_reason(db, config_file, capsys):
    raw = mail.dsn(None, "carol@example.net", original_message_id="<never@sent>")
    qid = hold(db, raw, parse_error="ValueError: boom")
    retried = retry(config_file, capsys, qid)
    assert retried["quarantine"] == "no_match"
    assert rows(db) == [(qid, "held", "no_match", len(raw), 0, 2)]
    assert q.get(db, qid)[0].detail["error"] == "ValueError: boom"  # what the first attempt said is kept


# ------------------------------------------------------------------ one hints builder


def test_hints_are_built_by_one_function_everywhere(settings):
    assert hints_from(settings.tracking) == hints_for(settings.tracking.return_path, settings.tracking.delimiter) == (
        ParseHints(local_part="receipts", delimiter="+", domain="helpdesk.example.com"))
    assert hints_for("@helpdesk.example.com", "+") == ParseHints(local_part=None, delimiter="+", domain="helpdesk.example.com")
    assert hints_for("receipts@", "-") == ParseHints(local_part="receipts", delimiter="-", domain=None)
    assert hints_for("receipts", "+") == ParseHints(local_part="receipts", delimiter="+", domain=None)


def test_maild_parse_uses_the_shared_hints(monkeypatch, config_file, tmp_path, capsys):
    import maild.cli.parse as cli_parse

    seen: list[ParseHints] = []
    real = cli_parse.results  # in this process; parse_file runs in the parse child
    monkeypatch.setattr(cli_parse, "results", lambda names, hints, lanes=1: seen.append(hints) or real(names, hints, lanes))
    eml = tmp_path / "r.eml"
    eml.write_bytes(mail.spam())
    assert main(["parse", str(eml), "--json", "--config", str(config_file)]) == 0
    capsys.readouterr()
    assert seen == [hints_for("receipts@helpdesk.example.com", "+")]  # and the default time limit
    assert not hasattr(cli_parse, "hints_from_settings")  # no second builder
