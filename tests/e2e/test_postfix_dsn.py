"""Real DSNs and a real MDN through a private Postfix (issue 4): `maild run` relays one ticket reply to a Postfix
playing example.net's MX; what Postfix answers (SMTP replies) and sends back (failure, success and delayed DSNs to
the VERP address, delivered into the Dovecot receipts mailbox) becomes per-recipient state, read over IMAP IDLE.

    helpdesk --SMTP--> maild intake --SMTP (DSN NOTIFY/ENVID/RET)--> Postfix (example.net)
                                                                       | alice: Maildir + success DSN
                                                                       | nosuchuser: failure DSN (5.1.1)
                                                                       | rejectme: 550 5.1.1 at RCPT
                                                                       | slow: deferred, delayed DSN
    maild <--IMAP IDLE-- Dovecot receipts INBOX <--virtual(8)-- receipts+TOKEN@helpdesk.example.com
    alice's client --MDN--> Postfix --> receipts+TOKEN@ --> Dovecot --> maild: alice read
"""

from __future__ import annotations

import email
import json
import secrets
import smtplib
import subprocess
import sys
import time
from email.message import EmailMessage
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path

import pytest

from tests.daemon.conftest import MaildProcess, NotifySocket, free_port
from tests.servers.dovecot import Dovecot
from tests.servers.postfix_upstream import DEFER_RCPT, REJECT_RCPT, UNKNOWN_RCPT, UpstreamPostfix

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

ALICE = "alice@example.net"
AGENT = "agent@helpdesk.example.com"
DEADLINE = 40.0  # seconds for everything Postfix sends back (the delayed DSN comes ~1-3 s after submission)


def maild_cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "maild", *args, "--config", str(config), "--log-format", "json"],
        capture_output=True, text=True, timeout=30, check=False,
    )


def status(config: Path, ticket: str) -> dict | None:
    """`maild status TICKET --json`, or None while the ticket is not there yet."""
    r = maild_cli(config, "status", ticket, "--json")
    if r.returncode != 0:
        return None
    return json.loads(r.stdout)


def events(config: Path, *filters: str) -> list[dict]:
    r = maild_cli(config, "events", *filters, "--json")
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def by_address(doc: dict) -> dict[str, dict]:
    (reply,) = doc["replies"]
    return {r["address"]: r for r in reply["recipients"]}


def maildir_files(maildir: Path, folder: str = "") -> list[Path]:
    """Messages in a Maildir++ folder ("" is INBOX, "processed" is .processed) on disk."""
    base = maildir / f".{folder}" if folder else maildir
    return [p for sub in ("new", "cur") if (base / sub).is_dir() for p in (base / sub).iterdir()]


def poll(what: str, check, diagnose, timeout: float = DEADLINE, interval: float = 0.3):
    """Call check() until it returns something truthy; on the deadline fail with diagnose()'s text."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}\n{diagnose()}")
        time.sleep(interval)


def submit_reply(port: int, ticket: str, message_id: str) -> None:
    msg = (
        f"From: Helpdesk <{AGENT}>\r\nTo: <{ALICE}>\r\nCc: <{UNKNOWN_RCPT}>, <{REJECT_RCPT}>\r\n"
        f"Subject: [#{ticket}] Your invoice\r\nMessage-ID: {message_id}\r\n"
        f"Date: {format_datetime(email.utils.localtime())}\r\nX-Ticket-ID: {ticket}\r\nX-Department: Billing\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello Alice, your invoice is attached.\r\n"
    )
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        refused = s.sendmail(AGENT, [ALICE, UNKNOWN_RCPT, REJECT_RCPT, DEFER_RCPT], msg)
    assert refused == {}  # maild accepts all four; what the upstream says is its business


def build_mdn(copy: email.message.Message, reader: str) -> tuple[str, bytes]:
    """An RFC 8098 read receipt for COPY as a mail client sends it: to its Disposition-Notification-To."""
    dnt = parseaddr(copy["Disposition-Notification-To"])[1]
    report = MIMEMultipart("report", report_type="disposition-notification")
    report["From"] = reader
    report["To"] = dnt
    report["Subject"] = f"Read: {copy['Subject']}"
    report["Date"] = format_datetime(email.utils.localtime())
    report["Message-ID"] = make_msgid(domain="example.net")
    report["In-Reply-To"] = copy["Message-ID"]
    report["References"] = copy["Message-ID"]
    report["Auto-Submitted"] = "auto-replied"
    report.attach(MIMEText(f"The message sent on {copy['Date']} to {reader} was displayed.\r\n"))
    fields = MIMENonMultipart("message", "disposition-notification")
    lines = ["Reporting-UA: example.net; Thunderbird 115.10.1"]
    if copy["Original-Recipient"]:
        lines.append(f"Original-Recipient: {copy['Original-Recipient']}")
    lines += [
        f"Final-Recipient: rfc822;{reader}",
        f"Original-Message-ID: {copy['Message-ID']}",
        "Disposition: manual-action/MDN-sent-manually; displayed",
    ]
    fields.set_payload("\r\n".join(lines) + "\r\n")
    report.attach(fields)
    headers = EmailMessage()
    for name, value in copy.items():
        if name.lower() in {"from", "to", "cc", "subject", "date", "message-id"}:
            headers[name] = value
    rfc822 = MIMENonMultipart("text", "rfc822-headers")
    rfc822.set_payload(bytes(headers).decode())
    report.attach(rfc822)
    return dnt, report.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


@pytest.fixture
def maild_e2e(tmp_path: Path, dovecot: Dovecot, postfix_upstream: UpstreamPostfix):
    receipts = postfix_upstream.receipts
    assert receipts is not None
    password = dovecot.password_file(receipts, tmp_path)
    smtp_port = free_port()
    config = tmp_path / "maild.toml"
    config.write_text(f"""
[store]
path = "var/maild.db"
[intake]
listen = ["127.0.0.1:{smtp_port}"]
[delivery]
upstream = "smtp://127.0.0.1:{postfix_upstream.port}"
first_retry = "1s"
max_retry = "2s"
poll_interval = "0.2s"
connect_timeout = "5s"
command_timeout = "15s"
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
""")
    proc = MaildProcess(config, smtp_port, 0, NotifySocket(tmp_path / "notify.sock"), tmp_path / "maild.log")
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()
        proc.notify.close()


def test_real_postfix_dsns_smtp_replies_and_mdn_become_recipient_states(
    maild_e2e: MaildProcess, postfix_upstream: UpstreamPostfix, dovecot: Dovecot
):
    config = maild_e2e.config
    receipts = postfix_upstream.receipts
    assert receipts is not None
    ticket = str(70000 + secrets.randbelow(20000))
    message_id = f"<reply-{secrets.token_hex(6)}@helpdesk.example.com>"

    def diagnose() -> str:
        return (
            f"status: {json.dumps(status(config, ticket), indent=1)}\n"
            f"events: {json.dumps(events(config, '--ticket', ticket), indent=1)}\n"
            f"receipts INBOX: {[p.name for p in maildir_files(receipts.maildir)]}\n"
            f"maild log (tail):\n{maild_e2e.log.read_text(errors='replace')[-4000:]}\n"
            f"postfix log (tail):\n{postfix_upstream.log()[-4000:]}\n"
            f"dovecot log (tail):\n{dovecot.log_path.read_text(errors='replace')[-1500:]}"
        )

    submit_reply(maild_e2e.smtp_port, ticket, message_id)

    def settled() -> dict | None:
        doc = status(config, ticket)
        if doc is None:
            return None
        rcpts = by_address(doc)
        want = {ALICE: "delivered", UNKNOWN_RCPT: "bounced", REJECT_RCPT: "failed", DEFER_RCPT: "delayed"}
        if {a: rcpts.get(a, {}).get("state") for a in want} != want:
            return None
        alice_dsn = [e for e in events(config, "--recipient", ALICE)
                     if e["ticket"] == ticket and e["kind"] == "delivered" and (e["source"], e["via"]) == ("dsn", "imap")]
        return doc if alice_dsn else None

    doc = poll("alice delivered (DSN), nosuchuser bounced, rejectme failed, slow delayed", settled, diagnose)
    rcpts = by_address(doc)
    assert {a: r["kind"] for a, r in rcpts.items()} == {
        ALICE: "to", UNKNOWN_RCPT: "cc", REJECT_RCPT: "cc", DEFER_RCPT: "bcc"}
    assert doc["replies"][0]["message_id"] == message_id
    assert doc["replies"][0]["state"] == "delivered" and doc["replies"][0]["bounce_label"] is False

    assert rcpts[ALICE]["failure"] is None and rcpts[ALICE]["delivered_at"]
    # the real Postfix failure DSN (virtual(8): unknown user), read from the receipts mailbox
    bounce = rcpts[UNKNOWN_RCPT]["failure"]
    assert bounce["status"] == "5.1.1" and bounce["reason"] == "userunknown" and bounce["hard"] is True, bounce
    assert bounce["source"] != "smtp", bounce
    assert bounce["remote_mta"] in (None, "mx.example.net"), bounce
    # refused at RCPT time by Postfix: no DSN, the SMTP reply is the failure
    refused = rcpts[REJECT_RCPT]["failure"]
    assert refused["status"] == "5.1.1" and refused["source"] == "smtp" and refused["hard"] is True, refused
    assert "550" in (refused["diagnostic"] or "") and "User unknown" in refused["diagnostic"], refused
    # the real delayed DSN: not a failure
    assert rcpts[DEFER_RCPT]["failure"] is None

    explained = [e for e in events(config, "--recipient", UNKNOWN_RCPT) if e["ticket"] == ticket]
    (bounced,) = [e for e in explained if e["kind"] == "bounced"]
    assert (bounced["source"], bounced["via"]) == ("dsn", "imap") and bounced["status"] == "5.1.1" and bounced["reason"] == "userunknown", bounced
    assert "nosuchuser@example.net" in bounced["diagnostic"] and "unknown user" in bounced["diagnostic"], bounced
    (delayed,) = [e for e in events(config, "--recipient", DEFER_RCPT) if e["ticket"] == ticket and e["kind"] == "delayed"]
    assert (delayed["source"], delayed["via"]) == ("dsn", "imap") and delayed["status"] == "4.4.1", delayed
    assert delayed["reporting_mta"], delayed  # Postfix's Reporting-MTA, kept on the event
    (smtp_failed,) = [e for e in events(config, "--recipient", REJECT_RCPT) if e["ticket"] == ticket and e["kind"] == "failed"]
    assert smtp_failed["source"] == "smtp" and smtp_failed["reply_code"] == 550, smtp_failed
    assert smtp_failed["via"] is None, smtp_failed

    # the three DSNs (success, failure, delayed) were moved out of INBOX into "processed", none quarantined
    poll("3 DSNs moved to the processed folder",
         lambda: len(maildir_files(receipts.maildir, "processed")) == 3 and not maildir_files(receipts.maildir),
         diagnose)
    assert not maildir_files(receipts.maildir, "quarantine")
    assert len(dovecot.uids(receipts, "processed")) == 3  # and IMAP agrees with the disk
    # maild's DSN parameters reached Postfix: the success DSN exists at all (NOTIFY=SUCCESS), each DSN went to the
    # copy's VERP address and carries an ENVID, and returns headers only (RET=HDRS)
    dsns = [email.message_from_bytes(p.read_bytes(), policy=compat32) for p in maildir_files(receipts.maildir, "processed")]
    assert sorted(d["Subject"] for d in dsns) == [
        "Delayed Mail (still being retried)", "Successful Mail Delivery Report", "Undelivered Mail Returned to Sender"]
    for dsn in dsns:
        assert dsn.get_content_type() == "multipart/report" and dsn.get_param("report-type") == "delivery-status"
        assert dsn["To"].startswith("receipts+") and dsn["To"].endswith("@helpdesk.example.com"), dsn["To"]
        parts = {p.get_content_type(): p for p in dsn.walk()}
        assert "text/rfc822-headers" in parts and "message/rfc822" not in parts  # RET=HDRS
        status_text = parts["message/delivery-status"].as_string()
        token = dsn["To"].split("+", 1)[1].split("@", 1)[0]
        assert f"Original-Envelope-Id: {token}" in status_text, status_text  # ENVID=TOKEN (DESIGN.md)
        assert b"Hello Alice" not in dsn.as_bytes()

    # alice's client reads the copy Postfix put in her Maildir and sends the read receipt it asks for
    copies = [email.message_from_bytes(p.read_bytes(), policy=compat32) for p in maildir_files(postfix_upstream.maildir("alice"))]
    (copy,) = [c for c in copies if c["Message-ID"] == message_id]
    assert copy["Return-Path"].strip("<>").startswith("receipts+")
    dnt, mdn = build_mdn(copy, ALICE)
    assert dnt.startswith("receipts+") and dnt.endswith("@helpdesk.example.com")
    with smtplib.SMTP("127.0.0.1", postfix_upstream.port, timeout=30) as s:
        assert s.sendmail("", [dnt], mdn) == {}  # MDNs go out with a null envelope sender (RFC 8098 section 2.1)

    doc = poll("alice read", lambda: (d := status(config, ticket)) and by_address(d)[ALICE]["state"] == "read" and d,
               diagnose)
    assert by_address(doc)[ALICE]["read_at"]
    assert doc["replies"][0]["state"] == "read_by_to"
    poll("the MDN moved to processed", lambda: len(maildir_files(receipts.maildir, "processed")) == 4, diagnose)

