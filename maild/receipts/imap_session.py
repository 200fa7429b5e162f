"""One IMAP connection: connect, STARTTLS, LOGIN, and every command under a hard timeout that gives up when the link drops.

aioimaplib itself would wait forever for an answer on a dead connection;
`call` races each command against the timeout and the connection-lost
callback, and turns aioimaplib's and the socket's errors into ImapError.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable
from typing import Any, TypeVar

import aioimaplib

from maild.config import ReceiptSource
from maild.core.urls import Scheme, SourceUrl
from maild.errors import TransientError
from maild.receipts.imap_client import ImapClient

T = TypeVar("T")


class ImapError(TransientError):
    """The IMAP session failed (dropped, timed out, refused a command); the source reconnects."""


class ImapTlsUnavailable(ImapError):
    """STARTTLS is required but the server does not offer it: never fall back to plain text."""


class ImapSession:
    """One logged-in connection; every call goes through `call` (timeout + dropped-connection guard)."""

    def __init__(self, url: SourceUrl, settings: ReceiptSource, timeout: float) -> None:
        self.url = url
        self.settings = settings
        self.timeout = timeout
        self.lost = asyncio.Event()
        self.imap: aioimaplib.IMAP4 | None = None
        self.exists_seen = False  # an `* N EXISTS` arrived since the flag was last cleared (before each UID SEARCH)
        self.broken = False  # a command timed out: the peer is gone or stuck, do not wait for a LOGOUT answer
        self.no_uidplus_logged = False

    def _on_lost(self, exc: Exception | None) -> None:
        self.lost.set()

    def _on_exists(self) -> None:
        self.exists_seen = True

    async def call(self, awaitable: Awaitable[T], what: str, timeout: float | None = None) -> T:
        task = asyncio.ensure_future(awaitable)
        lost = asyncio.ensure_future(self.lost.wait())
        try:
            done, _ = await asyncio.wait({task, lost}, timeout=timeout or self.timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost.cancel()
        if task in done:
            try:
                return task.result()
            except (aioimaplib.AioImapException, OSError, TimeoutError, ssl.SSLError) as exc:
                raise ImapError(f"{what}: {type(exc).__name__}: {exc}") from None
        task.cancel()
        if lost in done or self.lost.is_set():
            raise ImapError(f"{what}: connection lost")
        self.broken = True
        raise ImapError(f"{what}: timed out")

    async def ok(self, awaitable: Awaitable[Any], what: str) -> Any:
        response = await self.call(awaitable, what)
        if response.result != "OK":
            raise ImapError(f"{what} refused: {response_text(response.lines)}")
        return response

    def _tls_context(self) -> ssl.SSLContext:
        ca = self.settings.tls_ca_file
        return ssl.create_default_context(cafile=str(ca) if ca else None)

    async def open(self, password: str) -> None:
        url = self.url
        ctx = self._tls_context() if url.scheme is Scheme.IMAPS else None
        self.imap = ImapClient(url.host, url.port, timeout=self.timeout, conn_lost_cb=self._on_lost, ssl_context=ctx)
        self.imap.protocol.on_exists = self._on_exists
        await self.call(self.imap.wait_hello_from_server(), "connect")
        if url.scheme is Scheme.IMAP and self.settings.starttls:
            await self._starttls()
        if "LOGINDISABLED" in self.imap.protocol.capabilities:
            raise ImapError("login: the server refuses LOGIN on this connection (LOGINDISABLED); set starttls = true")
        await self.ok(self.imap.login(aioimaplib.quoted(url.user), password), "login")
        if not {"IMAP4rev1", "IMAP4REV1"} & self.imap.protocol.capabilities or "MOVE" not in self.imap.protocol.capabilities:
            await self.call(self.imap.protocol.capability(), "capability")  # not sent with the LOGIN answer

    async def _starttls(self) -> None:
        assert self.imap is not None
        protocol = self.imap.protocol
        if "STARTTLS" not in protocol.capabilities:
            raise ImapTlsUnavailable("starttls: required, but the server does not offer STARTTLS")
        response = await self.call(
            protocol.execute(aioimaplib.Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)), "starttls"
        )
        if response.result != "OK":
            raise ImapTlsUnavailable(f"starttls refused: {response_text(response.lines)}")
        loop = asyncio.get_running_loop()
        transport = await self.call(
            loop.start_tls(protocol.transport, protocol, self._tls_context(), server_hostname=self.url.host),
            "starttls handshake",
        )
        protocol.transport = transport
        await self.call(protocol.capability(), "capability")  # capabilities before TLS are not to be trusted

    @property
    def capabilities(self) -> set[str]:
        assert self.imap is not None
        return {c.upper() for c in self.imap.protocol.capabilities}

    async def close(self) -> None:
        if self.imap is None:
            return
        if not self.lost.is_set() and not self.broken:
            try:
                await self.call(self.imap.logout(), "logout", timeout=min(self.timeout, 5.0))
            except (ImapError, aioimaplib.AioImapException):
                pass
        transport = self.imap.protocol.transport
        if transport is not None:
            transport.close()


def response_text(lines: list[Any]) -> str:
    return " ".join(bytes(x).decode("utf-8", "replace") for x in lines if isinstance(x, (bytes, bytearray)))[:200]
