"""End to end with a real helpdesk: Debian's Request Tracker sends through maild-sendmail, maild tracks the reply under
RT's ticket number, relays it through the private Postfix to the private Dovecot, ingests the real DSNs and an MDN,
and writes the recipients' states back into RT's ticket custom field over REST2.

    REST2 POST /ticket, /ticket/N/correspond --> RT scrips --> maild-sendmail -oi -t --> maild intake (rt preset)
    maild --SMTP--> Postfix (example.net) --> alice's Maildir + success DSN; nosuchuser: failure DSN
    DSNs, alice's MDN --> receipts+TOKEN@ --> Dovecot --> maild (IMAP) --> write-back PUT /REST/2.0/ticket/N
"""

from __future__ import annotations

import email
import json
import shutil
import smtplib
import sys
import time
from email.policy import compat32
from pathlib import Path

import pytest

from tests.daemon.conftest import MaildProcess, NotifySocket, free_port
from tests.e2e.test_postfix_dsn import build_mdn, events, maild_cli, maildir_files, poll, status
from tests.servers.dovecot import Dovecot
from tests.servers.postfix_upstream import UNKNOWN_RCPT, UpstreamPostfix
from tests.servers.rt import RTNAME, RequestTracker

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

ALICE = "alice@example.net"


def _base_config(tmp_path: Path, smtp_port: int, dovecot: Dovecot, postfix_upstream: UpstreamPostfix, extra: str = "") -> str:
    receipts = postfix_upstream.receipts
    assert receipts is not None
    password = dovecot.password_file(receipts, tmp_path)
    return f"""
[store]
path = "var/maild.db"
[intake]
listen = ["127.0.0.1:{smtp_port}"]
[delivery]
upstream = "smtp://127.0.0.1:{postfix_upstream.port}"
first_retry = "1s"
max_retry = "2s"
poll_interval = "0.2s"
[tracking]
key_file = "var/token.key"
return_path = "receipts@helpdesk.example.com"
[[receipts]]
url = "{dovecot.url(receipts)}"
password_file = "{password}"
poll_interval = "1s"
command_timeout = "10s"
[http]
listen = ""
{extra}"""


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def rt_sendmail(tmp_path: Path, smtp_port: int, dovecot: Dovecot, postfix_upstream: UpstreamPostfix) -> list[str]:
    """RT's $SendmailPath: the installed maild-sendmail console script with this test's configuration."""
    config = tmp_path / "maild.toml"
    config.write_text(_base_config(tmp_path, smtp_port, dovecot, postfix_upstream))
    script = Path(sys.executable).parent / "maild-sendmail"
    command = [str(script)] if script.exists() else [shutil.which("maild-sendmail") or "maild-sendmail"]
    return [*command, "-C", str(config)]


@pytest.fixture
def maild_with_rt(tmp_path: Path, smtp_port: int, dovecot: Dovecot, postfix_upstream: UpstreamPostfix,
                  request_tracker: RequestTracker):
    token = tmp_path / "rt.token"
    token.write_text(request_tracker.token + "\n")
    config = tmp_path / "maild.toml"
    config.write_text(_base_config(tmp_path, smtp_port, dovecot, postfix_upstream, f"""
[[writeback]]
kind = "rt"
url = "{request_tracker.url}"
token_file = "{token}"
field = "{request_tracker.field}"
first_retry = "1s"
poll_interval = "0.5s"
"""))
    proc = MaildProcess(config, smtp_port, 0, NotifySocket(tmp_path / "notify.sock"), tmp_path / "maild.log")
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()
        proc.notify.close()


def test_rt_reply_is_tracked_relayed_receipted_and_written_back(
    maild_with_rt: MaildProcess, request_tracker: RequestTracker, postfix_upstream: UpstreamPostfix, dovecot: Dovecot
):
    config = maild_with_rt.config
    rt = request_tracker
    created = rt.rest("POST", "/ticket", {
        "Queue": "General", "Subject": "printer on fire", "Requestor": ALICE, "Cc": UNKNOWN_RCPT,
        "Content": "My printer is on fire.",
    })
    ticket = str(created["id"])
    rt.rest("POST", f"/ticket/{ticket}/correspond", {"Content": "We sent a technician.", "ContentType": "text/plain"})

    def diagnose() -> str:
        return (
            f"status: {json.dumps(status(config, ticket), indent=1)}\n"
            f"writeback: {maild_cli(config, 'writeback', 'list').stdout}\n"
            f"maild log (tail):\n{maild_with_rt.log.read_text(errors='replace')[-4000:]}\n"
            f"RT log (tail):\n{rt.log()[-3000:]}\n"
            f"postfix log (tail):\n{postfix_upstream.log()[-2500:]}"
        )

    def correspondence() -> dict | None:
        doc = status(config, ticket)
        if doc is None:
            return None
        for reply in doc["replies"]:
            addresses = {r["address"]: r for r in reply["recipients"]}
            if UNKNOWN_RCPT in addresses and ALICE in addresses:
                return {"doc": doc, "reply": reply, "rcpts": addresses}
        return None

    # RT's own scrips sent the reply; maild tracks it under RT's ticket number, department = RT's From address
    found = poll("RT's correspondence tracked under its ticket", correspondence, diagnose, timeout=120)
    assert found["doc"]["ticket"] == ticket
    assert found["doc"]["department"] == f"support@{RTNAME}"
    assert found["rcpts"][ALICE]["kind"] == "to" and found["rcpts"][UNKNOWN_RCPT]["kind"] == "cc"

    def receipted() -> dict | None:
        f = correspondence()
        if f and f["rcpts"][ALICE]["state"] == "delivered" and f["rcpts"][UNKNOWN_RCPT]["state"] == "bounced":
            dsn = [e for e in events(config, "--recipient", ALICE) if e["ticket"] == ticket and e["kind"] == "delivered"]
            return f if dsn else None
        return None

    found = poll("alice's success DSN and nosuchuser's failure DSN", receipted, diagnose, timeout=90)
    bounce = found["rcpts"][UNKNOWN_RCPT]["failure"]
    assert bounce["status"] == "5.1.1" and bounce["source"] != "smtp", bounce

    # alice reads RT's mail in her client, which sends the read receipt maild asked for
    def alice_copy():
        for path in maildir_files(postfix_upstream.maildir("alice")):
            msg = email.message_from_bytes(path.read_bytes(), policy=compat32)
            if msg["Message-ID"] == found["reply"]["message_id"]:
                return msg
        return None

    copy = poll("RT's reply in alice's Maildir", alice_copy, diagnose, timeout=30)
    assert copy["X-RT-Ticket"] == f"{RTNAME} #{ticket}"
    assert copy["Disposition-Notification-To"]
    dnt, mdn = build_mdn(copy, ALICE)
    with smtplib.SMTP("127.0.0.1", postfix_upstream.port, timeout=30) as s:
        assert s.sendmail("", [dnt], mdn) == {}

    poll("alice read", lambda: (f := correspondence()) and f["rcpts"][ALICE]["state"] == "read", diagnose, timeout=60)

    # maild wrote the recipients' states into RT's custom field; read back through REST2
    def field() -> str | None:
        values = rt.custom_field(ticket)
        text = " ".join(values)
        return text if f"{ALICE} read" in text and f"{UNKNOWN_RCPT} bounced" in text else None

    text = poll("RT's custom field written back", field, diagnose, timeout=60)
    assert "delivered" not in text.split(f"{ALICE} ", 1)[1].split(";")[0]
    # RT shows the field once it answered maild's write; maild records that answer a moment later
    def all_done() -> list[dict] | None:
        listed = [json.loads(line) for line in maild_cli(config, "writeback", "list", "--json").stdout.splitlines()]
        return listed if listed and all(r["status"] == "done" for r in listed) else None

    rows = poll("every write-back row done", all_done, diagnose, timeout=60)
    assert len({(r["recipient"], r["state"]) for r in rows}) == len(rows)  # at most one write per recipient and state
    assert {(r["address"], r["state"]) for r in rows} >= {(ALICE, "delivered"), (ALICE, "read"), (UNKNOWN_RCPT, "bounced")}
    # the write-back made RT send nothing: no mail is tracked after the last correspondence
    time.sleep(2)
    doc = status(config, ticket)
    assert doc is not None and all("maild write-back" not in (r["subject"] or "") for r in doc["replies"])
