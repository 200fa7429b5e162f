"""One SMTP or LMTP client connection on asyncio streams: greeting, EHLO, STARTTLS, AUTH, pipelined transactions."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass

from maild.config import is_loopback
from maild.delivery import protocol
from maild.delivery.protocol import Reply, ReplyClass
from maild.errors import TransientError

MAX_REPLY_LINES = 1000


class SessionError(TransientError):
    """The session failed outside a transaction's replies: connect, TLS, AUTH, a lost connection, a timeout.

    Always a deferral: none of these says anything about a recipient.
    `after_data` tells whether the message may have been taken anyway.
    """

    def __init__(self, problem: str, *, after_data: bool = False, reply: Reply | None = None) -> None:
        super().__init__(problem)
        self.after_data = after_data
        self.reply = reply


@dataclass(frozen=True, slots=True)
class SessionOptions:
    host: str
    port: int
    helo_name: str
    lmtp: bool = False
    implicit_tls: bool = False
    starttls: bool = False  # required: never falls back to plain text
    tls_context: ssl.SSLContext | None = None
    username: str = ""
    password: str = ""
    connect_timeout: float = 30.0
    command_timeout: float = 300.0


@dataclass(frozen=True, slots=True)
class Envelope:
    sender: str
    recipients: tuple[str, ...]
    mail_params: tuple[str, ...] = ()
    rcpt_params: tuple[tuple[str, ...], ...] = ()  # per recipient, or empty


class Connection:
    """A connected, greeted (and, when asked, encrypted and authenticated) session; `transact` sends one copy."""

    def __init__(self, options: SessionOptions, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.options = options
        self._reader = reader
        self._writer = writer
        self.extensions: dict[str, str] = {}
        self.transactions = 0
        self.dirty = False  # a transaction was left open: RSET before the next
        self.broken = False

    # ------------------------------------------------------------ setup

    @classmethod
    async def open(cls, options: SessionOptions) -> Connection:
        where = f"{options.host}:{options.port}"
        try:
            async with asyncio.timeout(options.connect_timeout):
                reader, writer = await asyncio.open_connection(
                    options.host,
                    options.port,
                    ssl=options.tls_context if options.implicit_tls else None,
                    server_hostname=options.host if options.implicit_tls else None,
                    limit=1 << 20,
                )
        except TimeoutError:
            raise SessionError(f"connect to {where} timed out") from None
        except ssl.SSLError as exc:
            raise SessionError(f"TLS handshake with {where} failed: {exc.reason or exc}") from None
        except OSError as exc:
            raise SessionError(f"connect to {where} failed: {exc.strerror or exc}") from None
        conn = cls(options, reader, writer)
        try:
            await conn._setup()
        except BaseException:
            conn.abort()
            raise
        return conn

    async def _setup(self) -> None:
        o = self.options
        greeting = await self._read_reply("greeting")
        if greeting.code != 220:
            raise SessionError(f"{o.host} greeted with {greeting}", reply=greeting)
        await self._hello()
        if o.starttls and not o.implicit_tls:
            if "STARTTLS" not in self.extensions:
                raise SessionError(f"{o.host} does not offer STARTTLS, which delivery requires (never sent in plain text)")
            reply = await self._command(b"STARTTLS\r\n", "STARTTLS")
            if reply.code != 220:
                raise SessionError(f"{o.host} refused STARTTLS: {reply}", reply=reply)
            try:
                async with asyncio.timeout(o.command_timeout):
                    await self._writer.start_tls(o.tls_context or ssl.create_default_context(), server_hostname=o.host)
            except ssl.SSLError as exc:
                raise SessionError(f"TLS handshake with {o.host} failed: {exc.reason or exc}") from None
            except (OSError, TimeoutError) as exc:
                raise SessionError(f"TLS handshake with {o.host} failed: {exc}") from None
            await self._hello()
        if o.username:
            await self._authenticate()

    async def _hello(self) -> None:
        verb = b"LHLO" if self.options.lmtp else b"EHLO"
        reply = await self._command(verb + b" " + self.options.helo_name.encode("idna") + b"\r\n", verb.decode())
        if reply.code != 250:
            raise SessionError(f"{self.options.host} refused {verb.decode()}: {reply}", reply=reply)
        self.extensions = protocol.parse_extensions(reply)

    async def _authenticate(self) -> None:
        o = self.options
        encrypted = o.implicit_tls or o.starttls
        if not encrypted and not is_loopback(o.host):
            raise SessionError(f"refusing to send the AUTH password to {o.host} without TLS")
        mechanisms = protocol.auth_mechanisms(self.extensions)
        if "PLAIN" in mechanisms:
            blob = base64.b64encode(f"\0{o.username}\0{o.password}".encode()).decode()
            reply = await self._command(f"AUTH PLAIN {blob}\r\n".encode(), "AUTH")
        elif "LOGIN" in mechanisms:
            reply = await self._command(b"AUTH LOGIN\r\n", "AUTH")
            for secret in (o.username, o.password):
                if reply.code != 334:
                    break
                reply = await self._command(base64.b64encode(secret.encode()) + b"\r\n", "AUTH")
        else:
            raise SessionError(f"{o.host} offers no AUTH mechanism maild knows (PLAIN, LOGIN)")
        if reply.code != 235:
            raise SessionError(f"authentication to {o.host} failed: {reply}", reply=reply)

    # ------------------------------------------------------------ transactions

    def supports(self, extension: str) -> bool:
        return extension in self.extensions

    async def transact(self, envelope: Envelope, message: bytes) -> tuple[Reply, ...]:
        """Send one copy; returns the final reply for each recipient, in order.

        MAIL refused: that reply for everyone. RCPT refused: its reply. Otherwise the
        reply to the end of DATA (LMTP: one per accepted recipient). Raises SessionError
        when the connection fails; `after_data` says whether the data had been sent.
        """
        rcpt_params = envelope.rcpt_params or tuple(() for _ in envelope.recipients)
        commands = [protocol.mail_command(envelope.sender, envelope.mail_params)]
        commands += [protocol.rcpt_command(a, p) for a, p in zip(envelope.recipients, rcpt_params, strict=True)]
        commands.append(b"DATA\r\n")
        rset = self.transactions > 0 or self.dirty
        self.transactions += 1
        self.dirty = True
        if self.supports("PIPELINING"):
            self._send((b"RSET\r\n" if rset else b"") + b"".join(commands))
            async with self._deadline("the pipelined MAIL, RCPT and DATA"):
                if rset:
                    await self._expect_rset(timed=False)
                replies = [await self._read_reply("MAIL FROM", timed=False) for _ in commands[:-1]]
                data_reply: Reply | None = await self._read_reply("DATA", timed=False)
        else:
            if rset:
                self._send(b"RSET\r\n")
                await self._expect_rset()
            replies = []
            for command in commands[:-1]:
                replies.append(await self._command(command, command[:4].decode()))
                if replies[0].klass is not ReplyClass.POSITIVE:
                    break
            accepted_any = len(replies) > 1 and any(r.klass is ReplyClass.POSITIVE for r in replies[1:])
            data_reply = await self._command(b"DATA\r\n", "DATA") if accepted_any else None
        mail_reply, rcpt_replies = replies[0], replies[1:]
        if mail_reply.klass is not ReplyClass.POSITIVE:
            return tuple(mail_reply for _ in envelope.recipients)
        accepted = [i for i, r in enumerate(rcpt_replies) if r.klass is ReplyClass.POSITIVE]
        if data_reply is None or data_reply.code != 354:
            if accepted and data_reply is not None:  # DATA refused: everyone accepted gets that reply
                return tuple(data_reply if i in accepted else r for i, r in enumerate(rcpt_replies))
            return tuple(rcpt_replies)
        self._send(protocol.encode_data(message if accepted else b""))
        try:
            await self._drain()
            if not accepted:  # a server that said 354 with no recipient gets an empty message and one reply
                await self._read_reply("end of empty DATA")
                self.dirty = False
                return tuple(rcpt_replies)
            if self.options.lmtp:
                finals = [await self._read_reply("end of DATA") for _ in accepted]
            else:
                final = await self._read_reply("end of DATA")
                finals = [final] * len(accepted)
        except SessionError as exc:
            exc.after_data = True
            raise
        self.dirty = False
        out = list(rcpt_replies)
        for i, reply in zip(accepted, finals, strict=True):
            out[i] = reply
        return tuple(out)

    async def _expect_rset(self, *, timed: bool = True) -> None:
        reply = await self._read_reply("RSET", timed=timed)
        if reply.code != 250:
            self.broken = True
            raise SessionError(f"{self.options.host} refused RSET: {reply}", reply=reply)
        self.dirty = False

    async def quit(self) -> None:
        if self.broken:
            self.abort()
            return
        try:
            self._send(b"QUIT\r\n")
            async with asyncio.timeout(5):
                await self._reader.readline()
        except (OSError, TimeoutError, SessionError):
            pass
        self.abort()

    def abort(self) -> None:
        self.broken = True
        self._writer.close()

    # ------------------------------------------------------------ wire

    def _send(self, data: bytes) -> None:
        if self._writer.is_closing():
            self.broken = True
            raise SessionError(f"lost connection with {self.options.host}")
        self._writer.write(data)

    async def _drain(self) -> None:
        """Wait while the socket buffer is over its high-water mark (large messages)."""
        if self._writer.transport.get_write_buffer_size() < 65536:
            return
        try:
            async with asyncio.timeout(self.options.command_timeout):
                await self._writer.drain()
        except TimeoutError:
            self.broken = True
            raise SessionError(f"timeout sending the message to {self.options.host}") from None
        except OSError as exc:
            self.broken = True
            raise SessionError(f"lost connection with {self.options.host} while sending the message: {exc}") from None

    async def _command(self, line: bytes, what: str) -> Reply:
        self._send(line)
        return await self._read_reply(what)

    @contextlib.asynccontextmanager
    async def _deadline(self, what: str) -> AsyncIterator[None]:
        """One command_timeout around several replies read in a row (pipelining)."""
        try:
            async with asyncio.timeout(self.options.command_timeout):
                yield
        except TimeoutError:
            self.broken = True
            raise SessionError(f"timeout waiting for the replies to {what} from {self.options.host}") from None

    async def _read_reply(self, what: str, *, timed: bool = True) -> Reply:
        if timed:
            async with self._deadline(what):
                return await self._read_reply(what, timed=False)
        lines: list[tuple[int, str]] = []
        try:
            while True:
                raw = await self._reader.readline()
                if not raw.endswith(b"\n"):
                    raise SessionError(f"lost connection with {self.options.host} while waiting for the reply to {what}")
                code, last, text = protocol.parse_reply_line(raw)
                lines.append((code, text))
                if last:
                    break
                if len(lines) > MAX_REPLY_LINES:
                    raise ValueError("reply too long")
        except SessionError:
            self.broken = True
            raise
        except (OSError, ValueError) as exc:
            self.broken = True
            raise SessionError(f"{self.options.host} failed while waiting for the reply to {what}: {exc}") from None
        reply = protocol.join_reply(lines)
        if reply.code == 421:
            self.broken = True  # the server closes after 421
        return reply
