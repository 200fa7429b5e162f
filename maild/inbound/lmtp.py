"""LMTP inbound hop: a listener in front of the helpdesk's mailbox that passes every message on unchanged, then answers.

The MTA hands the helpdesk's incoming mail to maild over LMTP instead of to
the mailbox's own LMTP server (`next_hop`). For each message maild opens a
session to the next hop, sends the same envelope and the same bytes
(`maild.delivery.client`, the delivery side's LMTP/SMTP client), and only
then answers its own client, each recipient with the next hop's answer for
it (RFC 2033: one reply per recipient after DATA). Nothing is stored before
that: a crash or kill -9 while a message is in flight leaves the sender
without an answer, so it keeps the message and retries. The next hop down
or failing gets every recipient a 451 (the sender retries); a next hop that
failed after the data was sent may have taken the message, so the retry can
deliver it twice — never zero times.

Once the next hop has accepted the message for at least one recipient, its
header fields are matched like any inbound answer (`maild.inbound.match`)
before maild answers; a failure to record is logged and counted, never a
reason to refuse a message the next hop already has.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiosmtpd.lmtp import LMTP

from maild import clock as clockmod
from maild import logs
from maild.config import InboundSource
from maild.core.urls import Scheme
from maild.delivery.client import Connection, Envelope, SessionError, SessionOptions
from maild.delivery.protocol import Reply
from maild.inbound.headers import read_headers
from maild.inbound.imap import InboundStats
from maild.inbound.match import Verdict, record_answer
from maild.receipts.runner import Runner

log = logs.get("inbound.lmtp")

MAX_MESSAGE = 64 * 1024 * 1024  # what the hop accepts; the next hop may have a lower limit and answers for itself
UNAVAILABLE = "451 4.4.0 Next hop unavailable, try again later"


def one_line(reply: Reply) -> str:
    """A next-hop reply as one line for our client (a multi-line reply keeps its code and its first line)."""
    text = reply.text.split("\n", 1)[0].strip()
    return f"{reply.code} {text}".rstrip()


def answers(replies: list[str]) -> str:
    """LMTP answers DATA once per accepted recipient (RFC 2033 §4.2); aiosmtpd sends what the handler returns."""
    return "\r\n".join(replies)


class HopHandler:
    """aiosmtpd handler: every recipient accepted at RCPT; at DATA the next hop's answers, per recipient."""

    def __init__(self, source: LmtpHop) -> None:
        self.source = source

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        hop = self.source
        raw: bytes = envelope.original_content or b""
        recipients = tuple(str(r) for r in envelope.rcpt_tos)
        ref = "lmtp:" + secrets.token_hex(4)
        try:
            replies = await hop.pass_on(str(envelope.mail_from or ""), recipients, raw, envelope.mail_options)
        except SessionError as exc:
            hop.failures += 1
            log.warning("inbound_next_hop_failed", ref=ref, error=str(exc)[:300], after_data=exc.after_data,
                        recipients=len(recipients))
            return answers([UNAVAILABLE] * len(recipients))
        hop.passed += 1
        if any(200 <= r.code < 300 for r in replies):
            await hop.record(raw, ref)
        return answers([one_line(r) for r in replies])


class LmtpHop(Runner):
    """Listens on the URL's HOST:PORT (port 0: any free port, see `port`) until stopped; see the module docstring.

    A runner whose one round is the listener's life; a port that cannot be bound is not retried (the daemon
    stops with the error rather than drop the helpdesk's mail on the floor).
    """

    retries = False

    def __init__(self, settings: InboundSource, store: Any, clock: Callable[[], datetime] = clockmod.now) -> None:
        url = settings.url
        assert settings.next_hop is not None
        super().__init__("inbound " + url.display())
        self.settings = settings
        self.store = store
        self.clock = clock
        self.host, self.port = url.host, url.port
        self.next_hop = settings.next_hop
        self.counts = InboundStats()
        self.passed = 0  # messages the next hop answered
        self.failures = 0  # messages answered 451 because the next hop failed
        self.record_failures = 0  # answers the next hop took that maild could not record
        self.handler = HopHandler(self)
        self._server: asyncio.AbstractServer | None = None
        self._helo = socket.getfqdn() or "maild"

    @property
    def connected(self) -> bool:
        return self._server is not None and self._server.is_serving()

    async def pass_on(self, sender: str, recipients: tuple[str, ...], raw: bytes, mail_options: list[str]) -> list[Reply]:
        """Hand the message to the next hop; its final reply per recipient. Raises SessionError when it failed."""
        options = SessionOptions(
            host=self.next_hop.host, port=self.next_hop.port, helo_name=self._helo,
            lmtp=self.next_hop.scheme is Scheme.LMTP, connect_timeout=self.settings.command_timeout,
            command_timeout=self.settings.command_timeout,
        )
        conn = await Connection.open(options)
        try:
            params = tuple(o for o in mail_options if _passable(o, conn))
            replies = await conn.transact(Envelope(sender, recipients, params), raw)
        finally:
            await conn.quit()
        return list(replies)

    async def record(self, raw: bytes, ref: str) -> None:
        try:
            h = read_headers(raw)
            now = self.clock()
            recorded = await self.store.write(
                lambda db: record_answer(db, h, source=self.name, via="lmtp", ref=ref, now=now)
            )
        except Exception as exc:  # noqa: BLE001 - the next hop has the message: never refuse it for our own trouble
            self.record_failures += 1
            log.error("inbound_record_failed", ref=ref, error=f"{type(exc).__name__}: {exc}"[:300])
            return
        self.counts.count(recorded)
        if recorded.decision.verdict is not Verdict.NOT_OURS:
            log.info("inbound_answer", source=self.name, ref=ref, verdict=str(recorded.decision.verdict),
                     events=recorded.events, duplicate=recorded.duplicate, why=recorded.decision.why)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: LMTP(self.handler, data_size_limit=MAX_MESSAGE, hostname="maild", loop=loop, decode_data=False),
            host=self.host,
            port=self.port,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self.stats.connected = True
        self.stats.sessions += 1
        log.info("inbound_lmtp_listening", host=self.host, port=self.port, next_hop=str(self.next_hop))

    async def round(self) -> None:
        if self._server is None:
            await self.start()
        await self._stop.wait()

    def log_failure(self, error: Exception, retry_in: float) -> None:  # never called: retries is False
        log.error("inbound_lmtp_failed", source=self.name, error=f"{type(error).__name__}: {error}")

    async def stopped(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        self.stats.connected = False


def _passable(option: str, conn: Connection) -> bool:
    """MAIL FROM parameters passed on when the next hop offers their extension (BODY=8BITMIME, SMTPUTF8)."""
    name = option.split("=", 1)[0].upper()
    if name == "BODY":
        return conn.supports("8BITMIME")
    if name == "SMTPUTF8":
        return conn.supports("SMTPUTF8")
    return False
