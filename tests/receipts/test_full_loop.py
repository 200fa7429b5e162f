"""The full loop without Postfix: helpdesk -> maild intake -> delivery -> aiosmtpd upstream; the copies' MDN and DSN
are APPENDed to a private Dovecot and read back over IMAP into events on the right recipients."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import email
import smtplib
from email.policy import compat32
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP

from maild import config
from maild.daemon import Daemon
from maild.receipts.imap import ImapSource
from tests.receipts import mail
from tests.receipts.conftest import KEY_LINE, async_wait_for

pytestmark = pytest.mark.integration


class Upstream:
    """Records what maild relays (the "internet")."""

    def __init__(self) -> None:
        self.copies: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.copies.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 2.0.0 Ok: queued"


def submit(port: int) -> None:
    msg = (
        "From: agent@helpdesk.example.com\r\nTo: alice@example.net\r\nCc: bob@example.net\r\n"
        "Subject: [#1234] Your invoice\r\nMessage-ID: <reply-1@helpdesk.example.com>\r\n"
        "X-Ticket-ID: 1234\r\nX-Department: Billing\r\n\r\nHello.\r\n"
    )
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.sendmail("agent@helpdesk.example.com", ["alice@example.net", "bob@example.net"], msg)


async def test_relayed_copies_mdn_and_dsn_come_back_as_events(tmp_path: Path, dovecot, dovecot_user):
    loop = asyncio.get_running_loop()
    upstream = Upstream()
    server = await loop.create_server(lambda: SMTP(upstream, loop=loop), "127.0.0.1", 0)
    up_port = server.sockets[0].getsockname()[1]
    (tmp_path / "token.key").write_text(KEY_LINE)
    (tmp_path / "token.key").chmod(0o600)
    cfg = tmp_path / "maild.toml"
    cfg.write_text(f"""
[store]
path = "maild.db"
[intake]
listen = ["127.0.0.1:0"]
[delivery]
upstream = "smtp://127.0.0.1:{up_port}"
poll_interval = "0.05s"
[tracking]
key_file = "token.key"
return_path = "receipts@helpdesk.example.com"
[http]
listen = ""
[[receipts]]
url = "{dovecot.url(dovecot_user)}"
password_file = "{dovecot.password_file(dovecot_user, tmp_path)}"
command_timeout = "5s"
""")
    settings = config.load(cfg)
    daemon = Daemon(settings)
    await daemon.start()
    try:
        port = daemon.intake.servers[0].sockets[0].getsockname()[1]
        await asyncio.to_thread(submit, port)
        await async_wait_for(lambda: len(upstream.copies) == 2, what="two copies upstream")

        # the daemon runs the configured IMAP source itself
        source = daemon.sources[0]
        assert isinstance(source, ImapSource)
        await async_wait_for(lambda: source.connected, what="IMAP ready")

        by_rcpt = {}
        for mail_from, rcpts, data in upstream.copies:
            headers = email.message_from_bytes(data, policy=compat32)
            by_rcpt[rcpts[0]] = (mail_from, headers)
        alice_from, alice = by_rcpt["alice@example.net"]
        bob_from, bob = by_rcpt["bob@example.net"]
        assert alice_from.startswith("receipts+") and alice["Disposition-Notification-To"]
        # the MDN goes to Disposition-Notification-To, the DSN to the envelope sender: their real addresses
        dnt_token = email.utils.parseaddr(alice["Disposition-Notification-To"])[1].split("+", 1)[1].split("@")[0]
        verp_token = bob_from.split("+", 1)[1].split("@")[0]
        await asyncio.to_thread(dovecot.append, dovecot_user,
                                mail.mdn(dnt_token, "alice@example.net", original_message_id=alice["Message-ID"]))
        await asyncio.to_thread(dovecot.append, dovecot_user,
                                mail.dsn(verp_token, "bob@example.net", original_message_id=bob["Message-ID"], envid=False))

        def ingested() -> list[tuple[str, str, str]]:
            with contextlib.closing(sqlite3.connect(settings.store.path)) as db:
                return db.execute(
                    """SELECT r.address, e.kind, e.source, e.via FROM events e JOIN recipients r ON r.id = e.recipient
                       WHERE e.via = 'imap' ORDER BY r.address""").fetchall()

        rows = await async_wait_for(lambda: len(ingested()) == 2 and ingested(), what="events from IMAP")
        assert rows == [("alice@example.net", "displayed", "mdn", "imap"), ("bob@example.net", "bounced", "dsn", "imap")]
        await async_wait_for(lambda: len(dovecot.uids(dovecot_user, "processed")) == 2, what="moved")
    finally:
        await daemon.stop(5)
        server.close()
