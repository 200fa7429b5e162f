"""Fixtures for delivery tests: a scripted aiosmtpd upstream on a port-0 socket, a store, settings and a clock."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP

from maild import config, spool
from maild.core.events import RecipientKind
from maild.store import Store
from maild.store import settings as store_settings
from maild.tokens import KeySet

KEYS = KeySet({"a": bytes(range(32))}, "a")
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
_DSN_PARAMS = ("RET", "ENVID", "NOTIFY", "ORCPT")


@dataclass
class Received:
    mail_from: str
    mail_options: list[str]
    rcpt_tos: list[str]
    rcpt_options: dict[str, list[str]]
    data: bytes


@dataclass
class Script:
    """What the upstream answers; replies keyed by recipient address."""

    rcpt: dict[str, str] = field(default_factory=dict)
    mail: str | None = None
    data: str | None = None  # reply to the end of DATA (SMTP)
    lmtp_data: dict[str, str] = field(default_factory=dict)  # per-recipient end-of-DATA replies (LMTP)
    drop_after_data: bool = False
    offer_dsn: bool = True
    offer_pipelining: bool = True


class ScriptedHandler:
    def __init__(self) -> None:
        self.script = Script()
        self.received: list[Received] = []
        self.transactions = 0  # MAIL commands seen
        self.connections: set[int] = set()
        self._lock = threading.Lock()

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]) -> list[str]:
        session.host_name = hostname
        extra = []
        if self.script.offer_dsn:
            extra.append("250-DSN")
        if self.script.offer_pipelining:
            extra.append("250-PIPELINING")
        return [*responses[:-1], *extra, responses[-1]]

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        with self._lock:
            self.transactions += 1
            self.connections.add(id(session))
        if self.script.mail:
            return self.script.mail
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        reply = self.script.rcpt.get(address, "250 2.1.5 OK")
        if reply.startswith("2"):
            envelope.rcpt_tos.append(address)
            envelope.__dict__.setdefault("per_rcpt", {})[address] = list(options)
        return reply

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        got = Received(
            envelope.mail_from,
            list(envelope.mail_options),
            list(envelope.rcpt_tos),
            dict(envelope.__dict__.get("per_rcpt", {})),
            envelope.original_content,
        )
        with self._lock:
            self.received.append(got)
        if self.script.drop_after_data:
            server.transport.abort()
            return "250 never seen"
        if self.script.lmtp_data:
            return "\r\n".join(self.script.lmtp_data.get(a, "250 2.0.0 OK") for a in envelope.rcpt_tos)
        return self.script.data or "250 2.0.0 OK queued"


class _AcceptsDsn:
    """aiosmtpd refuses parameters it does not implement; these servers take the DSN ones (RFC 3461) and keep them."""

    def _getparams(self, params: Any) -> Any:
        result = super()._getparams(params)  # type: ignore[misc]
        if result is not None:
            for key in _DSN_PARAMS:
                result.pop(key, None)
        return result


class DsnSMTP(_AcceptsDsn, SMTP):
    pass


class DsnLMTP(_AcceptsDsn, LMTP):
    pass


class PortZeroController(Controller):
    """aiosmtpd's Controller on a socket bound to 127.0.0.1 port 0 before the server starts."""

    def __init__(self, handler: Any, *, smtp_class: type = DsnSMTP, **kwargs: Any) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.smtp_class = smtp_class
        super().__init__(handler, hostname="127.0.0.1", port=self._sock.getsockname()[1], **kwargs)

    def _create_server(self) -> Any:
        return self.loop.create_server(self._factory_invoker, sock=self._sock, ssl=self.ssl_context)

    def factory(self) -> Any:
        return self.smtp_class(self.handler, **self.SMTP_kwargs)


@dataclass
class UpstreamServer:
    handler: ScriptedHandler
    controller: PortZeroController

    @property
    def port(self) -> int:
        return self.controller.port

    @property
    def script(self) -> Script:
        return self.handler.script

    @property
    def received(self) -> list[Received]:
        return self.handler.received


def _start(smtp_class: type, **kwargs: Any) -> Iterator[UpstreamServer]:
    handler = ScriptedHandler()
    controller = PortZeroController(handler, smtp_class=smtp_class, **kwargs)
    controller.start()
    try:
        yield UpstreamServer(handler, controller)
    finally:
        controller.stop()


@pytest.fixture(autouse=True)
def _logs_to_current_stderr() -> Iterator[None]:
    """structlog keeps the stream it was configured with; a CLI test's captured stderr is closed afterwards."""
    from maild import logs

    logs.configure("warning", "json")
    yield
    logs.configure("warning", "json")


@pytest.fixture
def upstream() -> Iterator[UpstreamServer]:
    yield from _start(DsnSMTP)


@pytest.fixture
def lmtp_upstream() -> Iterator[UpstreamServer]:
    yield from _start(DsnLMTP)


class FakeClock:
    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_settings(tmp_path: Path, upstream_url: str, **delivery: Any) -> config.Settings:
    doc = {
        "store": {"path": str(tmp_path / "maild.db")},
        "delivery": {"upstream": upstream_url, "helo_name": "maild.test", **delivery},
        "tracking": {"return_path": "receipts@helpdesk.example.com", "delimiter": "+"},
    }
    return config.parse(doc, tmp_path / "maild.toml")


@pytest.fixture
async def store(tmp_path: Path) -> Any:
    s = Store(tmp_path / "maild.db").open()
    yield s
    s.close()


MESSAGE = (
    b"From: Agent <agent@helpdesk.example.com>\r\n"
    b"To: Alice <alice@example.net>\r\n"
    b"Subject: [#1234] Your request\r\n"
    b"Message-ID: <reply-1@helpdesk.example.com>\r\n"
    b"\r\n"
    b"Hello Alice,\r\n.leading dot line\r\n\r\nBye\r\n"
)


async def enqueue(
    store: Store,
    recipients: list[str],
    *,
    raw: bytes = MESSAGE,
    tracked: bool = True,
    receipts: bool = True,
    at: datetime = START,
    sender: str = "agent@helpdesk.example.com",
) -> spool.Spooled:
    from maild import rewrite

    headers, body = rewrite.split_message(raw)
    sub = spool.Submission(
        queue_id=spool.new_queue_id(),
        sender=sender,
        recipients=tuple(spool.SpoolRecipient(a, RecipientKind.TO) for a in recipients),
        headers=headers,
        body=body,
        received_at=at,
        ticket="1234" if tracked else None,
        message_id="<reply-1@helpdesk.example.com>",
        subject="[#1234] Your request",
        tracked=tracked,
    )

    def job(db):  # noqa: ANN001, ANN202
        store_settings.set_receipts_default(db, receipts)  # tracking.receipts_default, as the store keeps it
        return spool.enqueue(db, sub, KEYS if tracked else None)

    return await store.write(job)


async def wait_for(condition: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Poll a condition until it holds or the deadline passes (never a bare sleep to synchronise)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        await asyncio.sleep(0.01)
