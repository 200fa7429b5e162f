"""`maild keys rotate` with the key reload on SIGHUP, as the README's key rotation section promises: after the reload
new copies are signed with the new key, and a DSN for a copy sent under the old key still counts."""

from __future__ import annotations

import json
import signal
import sqlite3

from maild.cli import main
from tests.daemon.conftest import wait_for
from tests.daemon.test_service import send
from tests.receipts import mail


def _token(sender: str) -> str:
    local = sender.split("@")[0]
    assert local.startswith("receipts+"), sender
    return local.removeprefix("receipts+")


def _bounced(db: str) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        return c.execute("SELECT count(*) FROM events WHERE kind = 'bounced'").fetchone()[0]


def test_rotate_then_sighup_signs_new_copies_with_the_new_key_and_old_tokens_still_verify(maild, sink, capsys):
    maild.start()
    send(maild.smtp_port, 1)
    wait_for(lambda: len(sink.received) == 1, what="first copy")
    old = _token(sink.received[0].sender)
    assert old[0] == "a"  # the key file maild created has one key, "a"

    assert main(["keys", "rotate", "--config", str(maild.config)]) == 0
    assert main(["keys", "list", "--config", str(maild.config)]) == 0
    out = capsys.readouterr()
    assert out.out.splitlines() == ["b  (signing)", "a"]
    assert "reload maild" in out.err

    maild.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: any(json.loads(line).get("event") == "reloaded" and json.loads(line).get("keys") == ["a", "b"]
                         for line in maild.log.read_text().splitlines() if line.startswith("{")),
             what="reload with both keys logged")
    send(maild.smtp_port, 2)
    wait_for(lambda: len(sink.received) == 2, what="second copy")
    assert _token(sink.received[1].sender)[0] == "b", "after rotate + SIGHUP the new key must sign"

    # A bounce for the copy sent under the old key arrives after the rotation: it must still verify and count.
    db = str(maild.config.parent / "var" / "maild.db")
    new = maild.config.parent / "var" / "receipts" / "new"
    (new / "1.dsn").write_bytes(mail.dsn(old, "to1@example.net", original_message_id="<svc-1@helpdesk.example.com>"))
    wait_for(lambda: _bounced(db) == 1, what="the old token's DSN recorded as a bounce")
    assert "report_token_rejected" not in maild.log.read_text()
    assert maild.terminate() == 0
