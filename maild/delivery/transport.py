"""Transports: how a copy leaves maild (SMTP/LMTP through a pool of reused connections, or a local Maildir)."""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from maild import logs
from maild.config import DeliverySettings
from maild.core.urls import Scheme
from maild.delivery import copies, maildir
from maild.delivery.client import Connection, SessionError, SessionOptions
from maild.delivery.copies import Copy, DsnRequest
from maild.delivery.protocol import Reply, ReplyClass, reply_class
from maild.errors import ConfigError

log = logs.get("delivery")


@dataclass(frozen=True, slots=True)
class Answer:
    """What the upstream said about one recipient of a copy; code None: no reply (connection trouble)."""

    code: int | None
    status: str | None
    text: str
    remote_mta: str

    @property
    def klass(self) -> ReplyClass:
        return reply_class(self.code)

    @classmethod
    def from_reply(cls, reply: Reply, remote_mta: str) -> Answer:
        return cls(reply.code, reply.status, str(reply), remote_mta)


class Transport(Protocol):
    async def send(self, copy: Copy) -> tuple[Answer, ...]: ...

    def reap_idle(self) -> None: ...

    async def close(self) -> None: ...


class SmtpTransport:
    """SMTP/LMTP with a small pool of idle connections, reused (RSET first) across copies."""

    def __init__(
        self,
        options: SessionOptions,
        dsn: DsnRequest | None,
        *,
        idle_timeout: float = 10.0,
        max_transactions: int = 1000,
    ) -> None:
        self.options = options
        self.dsn = dsn
        self.idle_timeout = idle_timeout
        self.max_transactions = max_transactions
        self._idle: list[tuple[float, Connection]] = []
        self._closed = False
        self._closing: set[asyncio.Task[None]] = set()

    async def send(self, copy: Copy) -> tuple[Answer, ...]:
        host = self.options.host
        for attempt in (1, 2):
            try:
                conn = await self._acquire()
            except SessionError as exc:
                return _no_reply(copy, str(exc), host)
            reused = conn.transactions > 0
            released = False
            try:
                replies = await conn.transact(copies.envelope(copy, conn.extensions, self.dsn), copy.data)
                self._release(conn)
                released = True
                return tuple(Answer.from_reply(r, host) for r in replies)
            except SessionError as exc:
                if reused and not exc.after_data and attempt == 1:
                    log.debug("pooled_connection_stale", upstream=host, error=str(exc))
                    continue  # the server dropped an idle connection: try a fresh one
                stage = " after DATA" if exc.after_data else ""
                return _no_reply(copy, f"{exc}{stage}", host, exc.reply)
            finally:
                if not released:
                    conn.abort()
        raise AssertionError("unreachable")

    async def _acquire(self) -> Connection:
        now = time.monotonic()
        while self._idle:
            used_at, conn = self._idle.pop()
            if not conn.broken and now - used_at < self.idle_timeout:
                return conn
            conn.abort()
        return await Connection.open(self.options)

    def _release(self, conn: Connection) -> None:
        if self._closed or conn.broken or conn.transactions >= self.max_transactions:
            task = asyncio.get_running_loop().create_task(conn.quit())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
            return
        self._idle.append((time.monotonic(), conn))

    def reap_idle(self) -> None:
        """Close connections idle for longer than idle_timeout."""
        now = time.monotonic()
        keep = []
        for used_at, conn in self._idle:
            if now - used_at >= self.idle_timeout:
                conn.abort()
            else:
                keep.append((used_at, conn))
        self._idle = keep

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        await asyncio.gather(*(conn.quit() for _, conn in idle), return_exceptions=True)


class MaildirTransport:
    """Writes each copy into a local Maildir; see maild.delivery.maildir for the envelope headers."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ready = False

    async def send(self, copy: Copy) -> tuple[Answer, ...]:
        try:
            if not self._ready:
                await asyncio.to_thread(maildir.ensure, self.path)
                self._ready = True
            name = await asyncio.to_thread(
                maildir.deliver, self.path, copy.sender, tuple(r.address for r in copy.recipients), copy.data
            )
        except OSError as exc:
            return _no_reply(copy, f"cannot write to maildir {self.path}: {exc.strerror or exc}", "maildir")
        answer = Answer(250, "2.0.0", f"250 2.0.0 written to {name}", "maildir")
        return tuple(answer for _ in copy.recipients)

    def reap_idle(self) -> None:
        pass

    async def close(self) -> None:
        pass


def _no_reply(copy: Copy, problem: str, host: str, reply: Reply | None = None) -> tuple[Answer, ...]:
    if reply is not None and reply.klass is ReplyClass.TRANSIENT:
        answer = Answer(reply.code, reply.status, problem, host)
    else:
        answer = Answer(None, None, problem, host)
    return tuple(answer for _ in copy.recipients)


def build(settings: DeliverySettings, base_dir: Path, helo_name: str) -> Transport:
    """The transport for delivery.upstream."""
    upstream = settings.upstream
    if upstream.scheme is Scheme.MAILDIR:
        assert upstream.path is not None
        return MaildirTransport(upstream.path)
    password = ""
    if settings.username:
        if settings.password_file is None:
            raise ConfigError("", "delivery.password_file", "expected a password file when delivery.username is set")
        try:
            password = settings.password_file.read_text("utf-8").strip()
        except OSError as exc:
            raise ConfigError("", "delivery.password_file", f"cannot read: {exc.strerror}") from None
    tls = upstream.scheme in (Scheme.SMTPS, Scheme.SMTP_STARTTLS)
    context = None
    if tls:
        try:
            context = ssl.create_default_context(cafile=str(settings.tls_ca_file) if settings.tls_ca_file else None)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError("", "delivery.tls_ca_file", f"cannot load: {exc}") from None
    options = SessionOptions(
        host=upstream.host,
        port=upstream.port,
        helo_name=helo_name,
        lmtp=upstream.scheme is Scheme.LMTP,
        implicit_tls=upstream.scheme is Scheme.SMTPS,
        starttls=upstream.scheme is Scheme.SMTP_STARTTLS,
        tls_context=context,
        username=settings.username,
        password=password,
        connect_timeout=settings.connect_timeout,
        command_timeout=settings.command_timeout,
    )
    dsn = DsnRequest(settings.dsn_notify, settings.dsn_ret) if settings.request_dsn else None
    return SmtpTransport(
        options, dsn, idle_timeout=settings.connection_idle_timeout, max_transactions=settings.connection_max_messages
    )
