"""maild-sendmail: sendmail's flags, submission over the real intake, direct spooling when the daemon is down, sysexits."""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import sys
from pathlib import Path

import pytest

from maild import sendmail
from maild.sendmail import Invocation, Usage, parse_args, prepare
from tests.presets import helpdesk_mail as hm

SENDMAIL = [sys.executable, "-m", "maild.sendmail"]


# ------------------------------------------------------------------ pure parts


def test_usual_flags_parse():
    inv = parse_args(["-t", "-oi", "-f", "rt@desk.example", "-FRequest Tracker", "-oem", "--", "a@example.net"])
    assert (inv.from_headers, inv.ignore_dots, inv.sender, inv.full_name) == (True, True, "rt@desk.example", "Request Tracker")
    assert inv.recipients == ["a@example.net"] and inv.warnings == ["option -oem ignored"]
    assert parse_args(["-frt@desk.example", "-i", "-bm", "b@example.net"]).sender == "rt@desk.example"
    assert parse_args(["-C", "/etc/x.toml", "a@example.net"]).config == "/etc/x.toml"


@pytest.mark.parametrize("argv", [["-bs"], ["-bp"], ["-x", "a@example.net"], ["-f"], ["not an address"], ["-f", "bad sender"]])
def test_what_cannot_send_is_a_usage_error(argv):
    with pytest.raises(Usage):
        parse_args(argv)


def test_t_reads_to_cc_bcc_and_drops_bcc_and_lf_become_crlf():
    raw = b"From: rt@desk.example\nTo: A <a@example.net>\nCc: b@example.net\nBcc: c@example.net\nSubject: x\n\nbody\n"
    data, sender, rcpts = prepare(raw, parse_args(["-t", "-i", "d@example.net"]), default_sender="www-data@desk.example")
    assert rcpts == ["d@example.net", "a@example.net", "b@example.net", "c@example.net"]
    assert b"Bcc" not in data and b"\n" not in data.replace(b"\r\n", b"")
    assert sender == "www-data@desk.example"
    assert data.endswith(b"\r\n\r\nbody\r\n")


def test_without_i_a_lone_dot_ends_the_message():
    raw = b"Subject: x\n\nline\n.\nafter\n"
    data, _, _ = prepare(raw, Invocation(recipients=["a@example.net"]), default_sender="s@x.example")
    assert data.endswith(b"\r\n\r\nline\r\n") and b"after" not in data
    data, _, _ = prepare(raw, Invocation(recipients=["a@example.net"], ignore_dots=True), default_sender="s@x.example")
    assert b"after" in data


def test_missing_from_and_date_are_added():
    data, _, _ = prepare(b"Subject: x\n\nb\n", Invocation(recipients=["a@example.net"], full_name="Desk"), default_sender="s@x.example")
    assert data.startswith(b"From: Desk <s@x.example>\r\nDate: ")


# ------------------------------------------------------------------ the command against a real intake / store


def _config(tmp_path: Path, port: int, extra: str = "") -> Path:
    path = tmp_path / "sendmail.toml"
    path.write_text(f'[intake]\nlisten = ["127.0.0.1:{port}"]\n{extra}')
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def run(argv: list[str], stdin: bytes, env: dict[str, str] | None = None) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *SENDMAIL, *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin), 60)
    assert out == b""  # nothing on standard output, ever
    return proc.returncode or 0, err.decode()


def rows(db: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


async def test_rt_mail_submitted_over_the_intake(make_config, start_intake, tmp_path):
    intake = await start_intake(make_config())
    cfg = _config(tmp_path, intake.port)
    raw = hm.rt(ticket=321).raw.replace(b"\r\n", b"\n")  # RT pipes LF text, as sendmailpipe does
    code, err = await run(["-oi", "-t", "-f", "support@rt.example.com", "-C", str(cfg)], raw)
    assert (code, err) == (0, "")
    (ticket, helpdesk, headers, body), = intake.rows("SELECT ticket, helpdesk, headers, body FROM messages")
    assert (ticket, helpdesk) == ("321", "rt")
    assert b"\n" not in (headers + body).replace(b"\r\n", b"")
    assert intake.rows("SELECT address, kind FROM recipients") == [("alice@example.net", "to")]


async def test_daemon_down_spools_directly_and_durably(make_config, tmp_path):
    settings = make_config()  # its store and key file; nothing listens on the port below
    from maild import tokens
    from maild.store import Store

    tokens.load_keys(settings.tracking.key_file, create=True)
    store = Store(settings.store.path)
    store.open()
    store.close()
    cfg = _config(tmp_path, _free_port())
    code, err = await run(["-t", "-i"], hm.zammad().raw, env={"MAILD_CONFIG": str(cfg)})
    assert code == 0 and "spooled directly as" in err
    (ticket, tracked, preset), = rows(settings.store.path, "SELECT ticket, tracked, helpdesk FROM messages")
    assert (ticket, tracked, preset) == ("31001", 1, "zammad")
    assert rows(settings.store.path, "SELECT count(*) FROM recipients WHERE token IS NOT NULL") == [(1,)]
    assert rows(settings.store.path, "SELECT count(*) FROM events WHERE kind = 'queued'") == [(1,)]


async def test_no_recipients_is_64(tmp_path):
    code, err = await run(["-C", str(_config(tmp_path, _free_port()))], b"Subject: x\n\nbody\n")
    assert code == 64 and "no recipients" in err and err.count("\n") == 1


async def test_t_with_an_address_header_nested_too_deep_is_65_and_says_why(tmp_path):
    cfg = _config(tmp_path, _free_port())
    code, err = await run(["-t", "-C", str(cfg)], b"To: a@example.net " + b"(" * 900 + b"\nSubject: x\n\nbody\n")
    assert code == 65 and "nests comments too deeply" in err and err.count("\n") == 1  # one line, no traceback
    assert not (tmp_path / "var" / "maild.db").exists()


async def test_too_large_is_65_and_nothing_is_stored(tmp_path):
    cfg = _config(tmp_path, _free_port(), 'max_message_size = "1KB"\n')
    code, err = await run(["-C", str(cfg), "a@example.net"], b"Subject: x\n\n" + b"y" * 4000 + b"\n")
    assert code == 65 and "max_message_size" in err
    assert not (tmp_path / "var" / "maild.db").exists()


async def test_unreadable_configuration_is_75(tmp_path):
    code, err = await run(["-C", str(tmp_path / "missing.toml"), "a@example.net"], b"Subject: x\n\nbody\n")
    assert code == 75 and "configuration" in err and err.count("\n") == 1
    bad = tmp_path / "bad.toml"
    bad.write_text("[intake\n")
    code, err = await run(["-C", str(bad), "a@example.net"], b"Subject: x\n\nbody\n")
    assert code == 75 and "invalid TOML" in err


async def test_daemon_down_and_store_unwritable_is_75(tmp_path):
    (tmp_path / "ro").mkdir()
    cfg = _config(tmp_path, _free_port(), '[store]\npath = "/proc/maild-cannot/maild.db"\n')
    code, err = await run(["-C", str(cfg), "-t"], hm.zammad().raw)
    assert code == 75 and "spooling directly failed" in err


async def test_intake_refusal_is_65(make_config, start_intake, tmp_path):
    intake = await start_intake(make_config('max_recipients = 1\n'))
    cfg = _config(tmp_path, intake.port)
    code, err = await run(["-C", str(cfg), "-i", "bad@@example.net"], b"Subject: x\n\nbody\n")
    assert code == 64  # caught before any SMTP: not an address
    code, err = await run(["-C", str(cfg), "-i", "a@example.net"], b"Subject: x\n\nbare\rCR\n")
    assert code == 65 and "bare CR" in err


def test_console_script_is_declared():
    assert sendmail.main is not None
    text = (Path(__file__).parents[2] / "pyproject.toml").read_text()
    assert 'maild-sendmail = "maild.sendmail:main"' in text
