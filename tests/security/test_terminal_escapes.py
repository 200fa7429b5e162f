"""Medium 6: mail-derived text never reaches a terminal with its control characters.

The attack reproduced: a subject, a department name and a DSN's Diagnostic-Code
carrying a title change (OSC 0), a screen clear (CSI 2J), a clipboard write
(OSC 52), an 8-bit CSI and a right-to-left override were printed raw by
`maild status`, `maild events` and `maild departments list`.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from maild import spool
from maild.core.events import RecipientKind
from maild.receipts.ingest import ingest_report
from maild.reports import parse
from maild.store import transaction
from tests.receipts.conftest import KEYS, T0, write_config
from tests.receipts.mail import dsn

TITLE = "\x1b]0;pwned\x07"
CLEAR = "\x1b[2J\x1b[H"
CLIPBOARD = "\x1b]52;c;ZXZpbA==\x07"
CSI8 = "\x9b31m"
RLO = "\u202e"
HOSTILE = TITLE + CLEAR + CLIPBOARD + CSI8 + RLO
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@pytest.fixture
def hostile_db(tmp_path, db_path, db):  # type: ignore[no-untyped-def]
    subject = f"[#1234] invoice {HOSTILE}"
    sub = spool.Submission(
        queue_id=spool.new_queue_id(), sender="agent@helpdesk.example.com",
        recipients=(spool.SpoolRecipient("alice@example.net", RecipientKind.TO),),
        headers=b"Message-ID: <m1@helpdesk.example.com>\r\nSubject: [#1234] invoice\r\n\r\n", body=b"hi\r\n",
        received_at=T0, ticket="1234", message_id="<m1@helpdesk.example.com>", subject=subject,
        department=f"Billing{TITLE}{CLEAR}",
    )
    transaction(db, lambda d: spool.enqueue(d, sub, KEYS))
    token = db.execute("SELECT token FROM recipients").fetchone()[0]
    raw = dsn(token, "alice@example.net", diagnostic=f"smtp; 550 5.1.1 no such user {HOSTILE}")
    report = parse(raw)
    out = transaction(db, lambda d: ingest_report(d, raw, report, KEYS, "pipe", T0.replace(hour=13), ref="x"))
    assert out.applied == 1
    return write_config(tmp_path, db_path)


def maild(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "maild", *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


COMMANDS = {
    "status": ["status", "1234"],
    "status_json": ["status", "1234", "--json"],
    "events": ["events"],
    "events_json": ["events", "--json"],
    "departments": ["departments", "list"],
    "departments_json": ["departments", "list", "--json"],
    "queue": ["queue", "list"],
}


@pytest.mark.parametrize("name", COMMANDS)
def test_no_control_character_from_mail_reaches_the_terminal(hostile_db, name):  # type: ignore[no-untyped-def]
    out = maild(*COMMANDS[name], "--config", str(hostile_db))
    assert not UNSAFE.findall(out), f"raw control characters in `maild {' '.join(COMMANDS[name])}`"
    if name in ("status", "events", "departments"):
        assert "\\x1b]0;pwned\\x07" in out  # shown, not dropped: the admin sees what was sent


def test_json_output_still_round_trips_the_exact_text(hostile_db):  # type: ignore[no-untyped-def]
    doc = json.loads(maild("status", "1234", "--json", "--config", str(hostile_db)))
    assert doc["replies"][0]["subject"].endswith(HOSTILE)
    assert HOSTILE in doc["replies"][0]["recipients"][0]["failure"]["diagnostic"]


def test_the_printable_fast_path_skips_no_character_the_escapes_would_change() -> None:
    # visible() and json_line() return a text that str.isprintable() accepts as it is: hold that over every code
    # point, so a character added to the escaped sets that Python calls printable fails here, not on a terminal.
    from maild.cli import visible as v

    printable = "".join(ch for ch in map(chr, range(sys.maxunicode + 1)) if ch.isprintable())
    for pattern in (v._ANY, v._ANY_LINE, v._JSON_EXTRA):
        assert pattern.search(printable) is None
    for hostile in (TITLE, CLEAR, CLIPBOARD, CSI8, RLO, "\u2028", "tab\there", "\xa0", "plain"):
        text = f"a{hostile}b\n"
        assert v.visible(text) == v._ANY.sub(v._escape, text)
        assert v.visible(text, one_line=True) == v._ANY_LINE.sub(v._escape, text) != text
        assert (v.visible(text) != text) == (hostile in (TITLE, CLEAR, CLIPBOARD, CSI8, RLO))
        line = v.json_line({"s": hostile})
        assert v._JSON_EXTRA.search(line) is None and v._ANY_LINE.search(line) is None
        assert json.loads(line) == {"s": hostile}
