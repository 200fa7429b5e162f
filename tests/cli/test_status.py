"""CLI contract: `maild status` (golden JSON and text), `maild events`, `maild departments`, `maild purge`, `maild forget`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from maild.cli import main
from tests.support.builders import Builder
from tests.support.status_cases import BOUNCE, FAIL

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "status"


@pytest.fixture
def site(tmp_path):
    """A configuration file and a store holding ticket 1234 (two replies) and ticket 77 (Sales)."""
    (tmp_path / "maild.toml").write_text('[store]\npath = "maild.db"\n')
    b = Builder(tmp_path / "maild.db")
    r1 = b.reply("1234", [("a@example.net", "to"), ("b@example.net", "cc"), ("c@example.net", "bcc")],
                 message_id="<r1@helpdesk.example.com>", minutes=0)
    for a in ("a@example.net", "b@example.net", "c@example.net"):
        b.event(r1, a, "accepted", 1)
    b.event(r1, "c@example.net", "bounced", 10, BOUNCE)
    b.event(r1, "a@example.net", "displayed", 30)
    r2 = b.reply("1234", [("a@example.net", "to")], message_id="<r2@helpdesk.example.com>", minutes=60,
                 subject="Re: your invoice (2)")
    b.event(r2, "a@example.net", "failed", 61, FAIL)
    r3 = b.reply("77", [("z@example.org", "to")], department="Sales", message_id="<r3@helpdesk.example.com>",
                 minutes=90)
    b.event(r3, "z@example.org", "accepted", 91)
    b.event(r3, "z@example.org", "displayed", 95)
    b.close()
    return tmp_path


def cli(site: Path, capsys, *argv: str) -> tuple[int, str]:
    code = main([*argv, "--config", str(site / "maild.toml")])
    return code, capsys.readouterr().out


def test_status_json_matches_golden(site, capsys) -> None:
    code, out = cli(site, capsys, "status", "1234", "--json")
    assert code == 0
    assert out.count("\n") == 1
    assert json.loads(out) == json.loads((GOLDEN / "status_1234.json").read_text())


def test_status_json_with_receipts_off_matches_golden(site, capsys) -> None:
    assert cli(site, capsys, "departments", "disable", "billing")[0] == 0
    code, out = cli(site, capsys, "status", "1234", "--json")
    assert code == 0
    assert json.loads(out) == json.loads((GOLDEN / "status_1234_receipts_off.json").read_text())


def test_status_shows_kept_receipts_again_when_switched_back_on(site, capsys) -> None:
    cli(site, capsys, "departments", "disable", "Billing")
    cli(site, capsys, "departments", "enable", "BILLING")
    code, out = cli(site, capsys, "status", "1234", "--json")
    assert json.loads(out) == json.loads((GOLDEN / "status_1234.json").read_text())


def test_status_text_matches_golden(site, capsys) -> None:
    code, out = cli(site, capsys, "status", "1234")
    assert code == 0
    assert "\x1b[" not in out  # no colour when not a terminal
    got = [line.rstrip() for line in out.splitlines()]
    want = (GOLDEN / "status_1234.txt").read_text().splitlines()
    assert got == want


def test_status_of_unknown_ticket_exits_1_with_json_error(site, capsys) -> None:
    code, out = cli(site, capsys, "status", "999", "--json")
    assert code == 1
    assert json.loads(out) == {"ticket": "999", "error": "unknown ticket"}


def test_status_of_unknown_ticket_exits_1_in_text(site, capsys) -> None:
    code, out = cli(site, capsys, "status", "999")
    assert (code, out) == (1, "")


def test_events_json_lists_every_event_in_order(site, capsys) -> None:
    code, out = cli(site, capsys, "events", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)
    assert len(rows) == 8 + 2 + 3  # tickets 1234 (two replies) and 77, queued events included
    (bounce,) = [r for r in rows if r["kind"] == "bounced"]
    assert (bounce["source"], bounce["via"], bounce["reporting_mta"], bounce["reporting_ua"]) == (
        "dsn", "imap", "dsn.example.net", None)
    assert {(r["source"], r["via"]) for r in rows if r["kind"] in ("queued", "accepted", "failed")} == {("smtp", None)}


def test_events_filter_by_ticket_and_cursor(site, capsys) -> None:
    _, out = cli(site, capsys, "events", "--ticket", "77", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["kind"] for r in rows] == ["queued", "accepted", "displayed"]
    _, out = cli(site, capsys, "events", "--ticket", "77", "--since", str(rows[0]["id"]), "--json")
    assert [json.loads(line)["kind"] for line in out.splitlines()] == ["accepted", "displayed"]


def test_events_filter_by_recipient_and_time(site, capsys) -> None:
    _, out = cli(site, capsys, "events", "--recipient", "A@example.net", "--since", "2026-03-01T09:20:00Z", "--json")
    assert [json.loads(line)["kind"] for line in out.splitlines()] == ["displayed", "queued", "failed"]


def test_events_hide_read_events_of_departments_with_receipts_off(site, capsys) -> None:
    cli(site, capsys, "departments", "disable", "sales")
    _, out = cli(site, capsys, "events", "--ticket", "77", "--json")
    assert [json.loads(line)["kind"] for line in out.splitlines()] == ["queued", "accepted"]


def test_events_rejects_a_bad_since(site, capsys) -> None:
    assert cli(site, capsys, "events", "--since", "yesterday-ish")[0] == 1


def test_departments_list_shows_explicit_seen_and_default(site, capsys) -> None:
    cli(site, capsys, "departments", "disable", "Legal")
    code, out = cli(site, capsys, "departments", "list", "--json")
    listed = json.loads(out)
    switches = {d["name"]: d.pop("last_switch") for d in listed["departments"]}
    assert switches["Billing"] is None and switches["Sales"] is None  # never switched: they follow the default
    legal = switches["Legal"]
    assert (legal["receipts_enabled"], legal["via"]) == (False, "cli") and legal["at"].endswith("Z")
    assert sorted(legal) == ["at", "by", "receipts_enabled", "via"]
    assert listed == {
        "default": True,
        "departments": [
            {"name": "Billing", "receipts_enabled": True, "explicit": False, "pixel": False},
            {"name": "Legal", "receipts_enabled": False, "explicit": True, "pixel": False},
            {"name": "Sales", "receipts_enabled": True, "explicit": False, "pixel": False},
        ],
    }


def test_departments_pixel_is_off_by_default_and_switches_per_department(site, capsys) -> None:
    code, out = cli(site, capsys, "departments", "pixel", "sales", "on")
    assert code == 0 and out.startswith("sales: open pixel on")
    code, out = cli(site, capsys, "departments", "list", "--json")
    pixel = {d["name"]: d["pixel"] for d in json.loads(out)["departments"]}
    assert pixel == {"Billing": False, "Sales": True}
    code, out = cli(site, capsys, "departments", "list")
    assert [line.split()[-1] for line in out.splitlines()[1:3]] == ["off", "on"]
    assert cli(site, capsys, "departments", "pixel", "Sales", "off")[0] == 0
    code, out = cli(site, capsys, "departments", "list", "--json")
    assert not any(d["pixel"] for d in json.loads(out)["departments"])


def test_receipts_default_off_hides_departments_without_setting(site, capsys) -> None:
    (site / "maild.toml").write_text('[store]\npath = "maild.db"\n[tracking]\nreceipts_default = false\n')
    cli(site, capsys, "departments", "enable", "Sales")
    _, billing = cli(site, capsys, "status", "1234", "--json")
    _, sales = cli(site, capsys, "status", "77", "--json")
    assert json.loads(billing)["receipts_enabled"] is False
    assert json.loads(sales)["replies"][0]["state"] == "read"


def test_purge_deletes_old_events_and_keeps_counts(site, capsys) -> None:
    code, out = cli(site, capsys, "purge", "--older-than", "1d", "--kind", "queued", "--json")
    result = json.loads(out)
    assert (code, result["deleted"], result["by_kind"]) == (0, 5, {"queued": 5})
    b = Builder(site / "maild.db")
    assert b.view("SELECT day, kind, cause, count FROM erased_counts") == [
        {"day": "2026-03-01", "kind": "queued", "cause": "purge", "count": 5}]
    assert b.view("SELECT count(*) AS n FROM events WHERE kind = 'queued'") == [{"n": 0}]
    b.close()


def test_purge_rejects_a_bad_age(site, capsys) -> None:
    assert cli(site, capsys, "purge", "--older-than", "soon")[0] == 1


def test_forget_erases_address_and_events(site, capsys) -> None:
    code, out = cli(site, capsys, "forget", "A@Example.net", "--json")
    assert (code, json.loads(out)) == (0, {"recipients": 2, "events": 5, "messages_scrubbed": 0, "quarantine_erased": 0,
                                        "answers_erased": 0})
    _, out = cli(site, capsys, "status", "1234", "--json")
    assert "a@example.net" not in out
    b = Builder(site / "maild.db")
    assert b.view("SELECT count(*) AS n FROM recipients WHERE address LIKE 'a@%'") == [{"n": 0}]
    assert b.view("SELECT sum(count) AS n FROM erased_counts WHERE cause = 'forget'") == [{"n": 5}]
    b.close()


def test_forget_of_an_unknown_address_exits_1(site, capsys) -> None:
    code, out = cli(site, capsys, "forget", "nobody@example.net", "--json")
    assert (code, json.loads(out)["recipients"]) == (1, 0)


def test_an_event_source_this_maild_does_not_know_is_a_clear_error(site, capsys) -> None:
    import sqlite3

    with sqlite3.connect(site / "maild.db") as conn:
        conn.execute("UPDATE events SET source = 'carrier-pigeon' WHERE kind = 'displayed'")
    code = main(["events", "--json", "--config", str(site / "maild.toml")])
    captured = capsys.readouterr()
    assert code == 1
    assert "'carrier-pigeon' in source" in captured.err and "Traceback" not in captured.err
