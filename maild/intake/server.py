"""The SMTP intake: aiosmtpd owns the protocol, this handler owns the policy and answers 250 only after the commit.

Relay policy is checked at RCPT: a client from `intake.allowed_networks` or
one authenticated with SMTP AUTH (offered only over TLS) may relay, anyone else
gets 554 5.7.1. A message with a bare CR or LF is refused (554 5.6.0) rather
than normalised: such bytes are how SMTP smuggling hides a second message, and
refusing keeps the promise that every relayed byte is the byte received.
"""

from __future__ import annotations

import asyncio
import inspect
import ipaddress
import re
import ssl
from collections.abc import Callable
from typing import Any, AnyStr, cast

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session, syntax

from maild import clock, logs, tokens
from maild.config import Settings
from maild.core.stats import IntakeStats
from maild.errors import StoreBusy, StoreError
from maild.intake.accept import submission_of
from maild.core.syntax import SIMPLE_PATH, UnreadableAddresses, address_problem
from maild.intake.auth import Users, load_users
from maild.intake.authlimits import LOCKED, AuthLimiter, FailureWindow
from maild.intake.datameter import CLOSE_DATA, DataMeter
from maild.intake.incoming import Incoming, read_incoming
from maild.intake.limits import (
    DATA_STEP,
    REPLY,
    DescriptorBudget,
    Gate,
    Holding,
    MemoryBudget,
    SessionLimits,
    declared_size,
    header_check,
    raise_descriptor_limit,
    widen_backlog,
)
from maild.ratelog import RateLog
from maild.spool import enqueue_many, new_queue_id
from maild.store import Batchable, StoreWrites

log = logs.get("intake")

TEMPFAIL = "451 4.3.0 Temporary failure, please try again later"
NO_MEMORY = "452 4.3.1 Insufficient system storage, try again later"
_QUOTED_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BARE_SPACE = re.compile(r"<[^>]*[ \t]")


def has_bare_cr_or_lf(raw: bytes) -> bool:
    """True when a CR or LF is not part of a CRLF pair.

    Counting is ten times faster than a regular expression on large bodies, and
    exact: each CRLF accounts for one CR and one LF, so any surplus is bare.
    """
    pairs = raw.count(b"\r\n")
    return raw.count(b"\r") != pairs or raw.count(b"\n") != pairs


# A message being checked and stored costs a few times its size (the parsed copy, the classification's
# decoded parts): measured 140-170 MB for an ordinary 35 MB message. What a transfer keeps of its reservation
# once its data is in.
WORKING_COPIES = 5

# A message this small, with a header section this small, is checked and classified on the event loop: at most
# about 15 ms even for pathological headers (measured: 8 KB of From addresses or encoded words; an ordinary
# 10 KB message 0.2 ms), while the hop to a worker thread and back cost more CPU than the work itself and made
# the loop thread wait for the GIL (1-recipient relay 0.67x the pass-through against 1.06x before issue 14).
LOOP_EXAMINE_MAX_BYTES = 64 * 1024
LOOP_EXAMINE_MAX_HEADER = 8 * 1024


def examined_on_loop(raw: bytes) -> bool:
    """Whether checking and classifying `raw` is cheap enough to run on the event loop (bounded work)."""
    return len(raw) <= LOOP_EXAMINE_MAX_BYTES and raw.find(b"\r\n\r\n", 0, LOOP_EXAMINE_MAX_HEADER + 4) >= 0


class IntakeHandler:
    """aiosmtpd handler: relay policy, classification and durable spooling."""

    def __init__(
        self,
        settings: Settings,
        store: StoreWrites,
        keys: tokens.KeySet,
        *,
        on_spooled: Callable[[], None] = lambda: None,
        users: Users | None = None,
        clock_fn: Callable[[], Any] = clock.now,
    ) -> None:
        self.settings = settings
        self.store = store
        self.keys = keys
        self.on_spooled = on_spooled
        self.users = users
        self.clock = clock_fn
        self.stats = IntakeStats()
        self.closing = False
        a = settings.intake
        self.auth_limits = AuthLimiter(
            FailureWindow(a.max_auth_failures_per_client, a.auth_failure_window),
            FailureWindow(a.max_auth_failures_per_user, a.auth_failure_window),
        )
        self._auth_log = RateLog(interval=10.0)

    # ----------------------------------------------------------- policy

    def peer_allowed(self, session: Session) -> bool:
        return self.address_allowed(session.peer)

    def address_allowed(self, peer: Any) -> bool:
        host = peer[0] if isinstance(peer, tuple) else None
        if host is None:
            return False
        try:
            ip = ipaddress.ip_address(host.split("%")[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        return any(ip in net for net in self.settings.intake.allowed_networks)

    def auth_offered(self, session: Session) -> bool:
        """AUTH is advertised when it can succeed: users exist, or credentials are ignored for this allowed peer."""
        return self.users is not None or self.auth_ignored(session)

    def auth_ignored(self, session: Session) -> bool:
        return self.settings.intake.allowed_networks_auth == "ignore" and self.peer_allowed(session)

    def authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any) -> AuthResult:
        """aiosmtpd's synchronous authenticator: never used for PLAIN/LOGIN (see `authenticate_async`); refuses."""
        return AuthResult(success=False, handled=False)

    async def authenticate_async(self, session: Session, auth_data: Any) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        s = self.settings.intake
        user = auth_data.login.decode("utf-8", "replace")
        if self.auth_ignored(session):
            # an allowed network relays without AUTH: the credentials a helpdesk UI insists on sending change nothing
            log.info("smtp_auth_ignored", peer=_peer(session))
            return AuthResult(success=True, auth_data=user)
        if self.users is None:
            return AuthResult(success=False, handled=False)
        peer = session.peer
        client = str(peer[0]) if isinstance(peer, tuple) else str(peer)
        now = asyncio.get_running_loop().time()
        if self.auth_limits.locked(client, user, now):
            self.stats.reject("auth_locked")
            self._auth_log.emit(("locked", client), log.warning, "smtp_auth_locked", peer=client)
            return AuthResult(success=False, handled=False, message=LOCKED)
        users = self.users
        # scrypt in a worker thread: eight brute-force sessions must not stall every other client
        ok = await asyncio.to_thread(users.check, user, auth_data.password.decode("utf-8", "replace"))
        if not ok:
            self.auth_limits.fail(client, user, asyncio.get_running_loop().time())
            # no user name: people type their password into the login field
            log.warning("smtp_auth_failed", peer=_peer(session))
            self.stats.reject("auth_failed")
            await asyncio.sleep(s.auth_failure_delay)  # this session waits, the loop goes on
            return AuthResult(success=False, handled=False)  # handled=False: aiosmtpd answers 535
        log.info("smtp_auth", peer=_peer(session), user=user)
        return AuthResult(success=True, auth_data=user)

    # ----------------------------------------------------------- hooks

    async def handle_EHLO(self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]) -> list[str]:
        session.host_name = hostname
        if not self.auth_offered(session):  # do not advertise an AUTH that cannot succeed
            responses = [r for r in responses if not r.startswith("250-AUTH")]
        return responses

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]) -> str:
        if self.closing:
            return "421 4.3.2 Service shutting down, try again later"
        utf8 = any(o.upper() == "SMTPUTF8" for o in mail_options)
        if address and address_problem(address, smtputf8=utf8) is not None:
            self.stats.reject("bad_sender")
            log.warning("sender_refused", peer=_peer(session), problem=address_problem(address, smtputf8=utf8))
            return "553 5.1.7 Sender address syntax is invalid"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]) -> str:
        if not (session.authenticated or self.peer_allowed(session)):
            self.stats.reject("relay_denied")
            log.warning("relay_denied", peer=_peer(session), rcpt_domain=address.rpartition("@")[2])
            return "554 5.7.1 Relay access denied"
        utf8 = any(o.upper() == "SMTPUTF8" for o in envelope.mail_options) or bool(envelope.smtp_utf8)
        problem = address_problem(address, smtputf8=utf8)
        if problem is not None:
            self.stats.reject("bad_recipient")
            log.warning("recipient_refused", peer=_peer(session), problem=problem)
            return "553 5.1.3 Recipient address syntax is invalid"
        if len(envelope.rcpt_tos) >= self.settings.intake.max_recipients:
            self.stats.reject("too_many_recipients")
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        if isinstance(server, _Session):
            if server.budget_refused:  # the data was dropped; the reply waits for the client's end of data (push)
                return server.budget_refusal()
            server.data_read(len(raw))
        peer = _peer(session)
        received_at = self.clock()
        queue_id = new_queue_id()
        domain = self.settings.tracking.return_path.rpartition("@")[2]
        args = (raw, envelope.mail_from or "", list(envelope.rcpt_tos), self.settings,
                f"<{queue_id}.{int(received_at.timestamp())}@{domain}>")
        if examined_on_loop(raw):
            verdict = _examine(*args)
        else:
            # Checks and classification in a thread: 35 MB of header lines must not stop every other session.
            verdict = await asyncio.to_thread(_examine, *args)
        if isinstance(verdict, str):
            reason, reply = verdict.split(":", 1)
            self.stats.reject(reason)
            log.warning("message_rejected", peer=peer, reason=reason, size=len(raw))
            return reply
        c = verdict
        sub = submission_of(c, queue_id=queue_id, sender=envelope.mail_from or "", received_at=received_at, peer=peer)
        # Batchable: the messages of concurrent sessions are stored together, in a few multi-row statements.
        job = Batchable(enqueue_many, (sub, self.keys))
        try:
            spooled = await self.store.write(job)
        except (StoreBusy, StoreError) as exc:
            self.stats.reject("store_failed")
            log.error("spool_failed", peer=peer, queue_id=sub.queue_id, error=str(exc))
            return TEMPFAIL
        self.stats.accepted += 1
        self.stats.recipients += len(sub.recipients)
        self.stats.presets[c.preset] = self.stats.presets.get(c.preset, 0) + 1
        if c.malformed:
            log.warning("helpdesk_id_malformed", queue_id=spooled.queue_id, preset=c.preset, problem=c.malformed)
        if c.skipped:
            log.info("helpdesk_notice_untracked", queue_id=spooled.queue_id, preset=c.preset, reason=c.skipped)
        log.info(
            "message_queued",
            queue_id=spooled.queue_id,
            peer=peer,
            preset=c.preset,
            ticket=c.ticket,
            department=c.department,
            recipients=len(sub.recipients),
            size=len(raw),
            tracked=c.tracked,
        )
        self.on_spooled()
        return f"250 2.0.0 Ok: queued as {spooled.queue_id}"

    async def handle_exception(self, error: Exception) -> str:
        # Never aiosmtpd's "500 Error: (Type) text": that leaks internals and tells the client to give up.
        log.error("intake_internal_error", error=repr(error))
        self.stats.reject("internal_error")
        return TEMPFAIL


def _examine(
    raw: bytes, sender: str, rcpts: list[str], settings: Settings, fallback_message_id: str
) -> Incoming | str:
    """The classification, or "reason:reply" for a message refused as it is (runs in a worker thread)."""
    if has_bare_cr_or_lf(raw):
        return "bare_newline:554 5.6.0 Message contains a bare CR or LF; refused (send CRLF line ends)"
    if b"\0" in raw:  # not text (RFC 5321 2.3.8); relayed, it breaks or truncates what reads it further on
        return "nul_byte:554 5.6.0 Message contains a NUL byte; refused"
    s = settings.intake
    header = header_check(raw, int(s.max_header_size), s.max_header_lines)
    if header.too_big:
        return "header_too_big:552 5.3.4 Message header too big (see intake.max_header_size and max_header_lines)"
    try:
        return read_incoming(raw, sender, rcpts, settings.tracking, fallback_message_id=fallback_message_id)
    except UnreadableAddresses:  # the same message would fail the same way: a permanent refusal, not 451 for ever
        return "unreadable_address_header:554 5.6.0 An address header (From, To or Cc) nests comments too deeply to be read; refused"


async def _settled(result: Any) -> AuthResult:
    return await result if inspect.isawaitable(result) else result  # type: ignore[no-any-return]


def _peer(session: Session) -> str:
    peer = session.peer
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else str(peer)


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    cert, key = settings.intake.tls_cert_file, settings.intake.tls_key_file
    if cert is None:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert), str(key) if key else None)
    return ctx


class _Session(SMTP):
    """aiosmtpd's protocol, plus: admission by the gate (421 4.7.0 before the greeting), a 421 greeting while
    shutting down, a registry of live sessions, and idle timeouts per phase (before MAIL, in a transaction, in DATA)."""

    # 998 characters + CRLF (RFC 5321 4.5.3.1.6, RFC 5322 2.1.1); a longer line gets aiosmtpd's
    # "500 Line too long" once the transfer ends. aiosmtpd's own default let 999 through.
    line_length_limit = 1000

    def __init__(
        self, handler: IntakeHandler, live: set[_Session], gate: Gate, refusals: RateLog, memory: MemoryBudget,
        **kwargs: Any,
    ) -> None:
        super().__init__(handler, **kwargs)
        self._memory = memory
        self._holding = Holding()  # bytes of the memory budget this session's DATA holds now
        self._meter: DataMeter | None = None  # counting a transfer without SIZE= against its holding
        self._growing: asyncio.Future[None] | None = None
        self._refused_end: asyncio.Future[None] | None = None  # set: dropping the data up to the client's end of it
        self.refused_size = 0  # bytes a transfer refused while growing had sent by then
        self._live = live
        self._gate = gate
        self._refusals = refusals
        self._admitted: tuple[str, bool] | None = None
        self._in_data = False
        self._deadline = 0.0  # loop time at which an idle session is closed (see _reset_timeout)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._admitted is None and self.transport is None:  # not the STARTTLS re-entry
            peer = transport.get_extra_info("peername")
            client = str(peer[0]) if isinstance(peer, tuple) else str(peer)
            trusted = self.event_handler.address_allowed(peer)
            refusal = self._gate.admit(client, trusted=trusted, now=self.loop.time())
            if refusal is not None:
                # Before aiosmtpd sets anything up: the socket is closed at once, no task, no timer.
                self.event_handler.stats.reject(refusal.value)
                self._refusals.emit((refusal, client), log.warning, "session_refused", peer=client, reason=refusal.value)
                # A cast, not an isinstance check: uvloop's transports write but are not asyncio.WriteTransport
                # subclasses, and a failed assert here closed the socket without the 421.
                cast(asyncio.WriteTransport, transport).write(REPLY[refusal].encode() + b"\r\n")
                transport.close()
                return
            self._admitted = (client, trusted)
            self._live.add(self)
        super().connection_made(transport)
        if self.session is not None and self.event_handler.address_allowed(self.session.peer):
            # allowed networks may relay without AUTH at all, so AUTH there needs no TLS first:
            # helpdesk UIs that insist on a user and password work on a loopback listener without a certificate
            self._auth_require_tls = False

    def connection_lost(self, error: Exception | None) -> None:
        if self._admitted is None:
            return  # refused in connection_made: aiosmtpd never saw this connection
        self._live.discard(self)
        client, trusted = self._admitted
        self._gate.release(client, trusted=trusted)
        super().connection_lost(error)

    def eof_received(self) -> bool | None:
        if self._admitted is None:
            return False
        return super().eof_received()

    def data_received(self, data: bytes) -> None:
        if self._in_data:  # the DATA timeout is idle time: any bytes received restart it
            self._reset_timeout()
        meter = self._meter
        if meter is not None:
            if meter.discarding:
                rest = meter.discard(data)
                if rest is None:
                    return
                self._refusal_done()
                data = rest
            else:
                data = meter.take(data, self._holding.held)
                if meter.pending and self._growing is None and self.transport is not None:
                    # beyond the holding: stop reading (the client waits in TCP) until the budget grants a step
                    self.transport.pause_reading()  # type: ignore[attr-defined]
                    self._growing = asyncio.ensure_future(self._grow(meter))
            if not data:
                return
        super().data_received(data)

    async def _grow(self, meter: DataMeter) -> None:
        """Grow the holding step by step for what `meter` holds back; on refusal drop the transfer (452 at its end)."""
        try:
            while need := meter.wants_more(self._holding.held):
                step = min(max(need, DATA_STEP), meter.cap - self._holding.held)
                wait = self.event_handler.settings.intake.data_memory_wait
                if not await self._memory.grow(self._holding, step, wait):
                    self._refuse_transfer(meter)
                    return
            if self.transport is None or self._meter is not meter:
                return
            self.transport.resume_reading()  # type: ignore[attr-defined]  # before feeding: the reader may pause it again
            data = meter.flush()
            if data:
                super().data_received(data)
        finally:
            self._growing = None

    def _refuse_transfer(self, meter: DataMeter) -> None:
        """The budget could not grow: drop this transfer, its holding already given back; 452 once the client is done."""
        if self.transport is None or self._meter is not meter:
            return
        self._refused_end = self.loop.create_future()
        self.refused_size = meter.received
        rest = meter.refuse()
        self.transport.resume_reading()  # type: ignore[attr-defined]
        super().data_received(CLOSE_DATA)  # aiosmtpd's DATA loop ends now and lets go of what it had read
        if rest is not None:
            self._refusal_done()
            if rest:
                super().data_received(rest)

    def _refusal_done(self) -> None:
        self._meter = None
        if self._refused_end is not None and not self._refused_end.done():
            self._refused_end.set_result(None)

    @property
    def budget_refused(self) -> bool:
        return self._refused_end is not None

    def budget_refusal(self) -> str:
        """Count and log (rate-limited) a transfer refused while growing; its reply."""
        self.event_handler.stats.reject("memory_budget")
        self._refusals.emit(("memory_budget",), log.warning, "data_refused", reason="memory_budget", size=self.refused_size)
        return NO_MEMORY


    def _reset_timeout(self, duration: float | None = None) -> None:
        """Move the idle deadline; the timer itself is re-armed only when it must fire sooner.

        aiosmtpd cancels and schedules a timer on every call, and this is called after every command,
        reply and DATA chunk (a dozen times per message): each cancelled timer stays in the loop's heap
        until its time comes, and the loop rebuilds that heap when half of it is cancelled.
        """
        if duration is None:
            s = self.event_handler.settings.intake
            if self._in_data:
                duration = s.data_timeout
            elif self.envelope is not None and self.envelope.mail_from is not None:
                duration = s.command_timeout
            else:
                duration = s.idle_timeout
        loop = self.loop
        self._deadline = deadline = loop.time() + duration
        handle = self._timeout_handle
        if handle is None or handle.cancelled() or handle.when() > deadline:
            if handle is not None:
                handle.cancel()
            self._timeout_handle = loop.call_at(deadline, self._deadline_reached)

    def _deadline_reached(self) -> None:
        if self.loop.time() < self._deadline:  # activity since the timer was set: wait for the rest
            self._timeout_handle = self.loop.call_at(self._deadline, self._deadline_reached)
            return
        self._timeout_cb()  # type: ignore[no-untyped-call]  # aiosmtpd: logs and closes the transport

    def _authenticate(self, mechanism: str, auth_data: Any) -> Any:
        # aiosmtpd's PLAIN and LOGIN call this synchronously; the coroutine returned is awaited by the overrides below
        return self.event_handler.authenticate_async(self.session, auth_data)

    async def auth_PLAIN(self, server: Any, args: list[str]) -> AuthResult:
        return await _settled(await super().auth_PLAIN(server, args))

    async def auth_LOGIN(self, server: Any, args: list[str]) -> AuthResult:
        return await _settled(await super().auth_LOGIN(server, args))

    async def push(self, status: AnyStr) -> None:
        if self._refused_end is not None:  # a refused transfer is answered after the client's end of data
            await self._refused_end
        await super().push(status)
        # aiosmtpd restarts the timer when a command arrives, before it runs; restarting after each
        # reply picks the timeout of the phase the command led to (MAIL starts a transaction, 354 DATA).
        if self.transport is not None:
            self._reset_timeout()

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        envelope = self.envelope
        if envelope is None or not envelope.rcpt_tos or arg or not self.session or not self.session.host_name:
            await super().smtp_DATA(arg)  # aiosmtpd's own 503/501 replies
            return
        limit = int(self.event_handler.settings.intake.max_message_size)
        declared = declared_size(envelope.mail_options)
        want = min(declared or limit, limit)
        # without SIZE= a first step, grown as the bytes arrive (_grow): small messages do not each reserve the limit
        first = want if declared or want <= DATA_STEP else DATA_STEP
        if not await self._memory.reserve_within(first, self.event_handler.settings.intake.data_memory_wait):
            self.event_handler.stats.reject("memory_budget")
            self._refusals.emit(("memory_budget",), log.warning, "data_refused", reason="memory_budget", size=first)
            await self.push(NO_MEMORY)
            return
        # a client that declared SIZE= is held to it (RFC 1870): its reservation bounds what it may send
        self.data_size_limit = want
        self._holding.held = first
        self._meter = DataMeter(want) if first < want else None
        self._in_data = True
        try:
            await super().smtp_DATA(arg)
        finally:
            self._in_data = False
            self._meter = None
            self._refused_end = None
            if self._growing is not None:
                self._growing.cancel()
                self._growing = None
            self.data_size_limit = limit
            self._memory.release_holding(self._holding)
            self._reset_timeout()

    def data_read(self, size: int) -> None:
        """The whole message is in: keep only what checking and storing it costs, so others' DATA may start."""
        self._meter = None
        self._memory.release_holding(self._holding, keep=size * WORKING_COPIES)

    async def _handle_client(self) -> None:
        if self.event_handler.closing:
            await self.push("421 4.3.2 Service shutting down, try again later")
            if self.transport is not None:
                self.transport.close()
            return
        await super()._handle_client()

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """aiosmtpd's parse of a MAIL/RCPT path, without its RFC 5322 parser for a plain `<local@domain>`.

        That parser costs ~50 µs per address (a tenth of the loop's time under load);
        for a dot-atom local part and a host name its result is exactly the text
        between the brackets and the parameters after the spaces. Anything else
        (quoted local parts, literals, comments, tabs) goes to aiosmtpd's own code.
        """
        m = SIMPLE_PATH.match(arg)  # its parse by aiosmtpd's RFC 5322 parser is this very text
        if m is not None:
            rest = arg[m.end() :]
            if not rest or (rest[0] == " " and "(" not in rest and "\t" not in rest):
                address = m.group(1)
                if self.local_part_limit and len(address.rpartition("@")[0]) > self.local_part_limit:
                    return None, None
                return address, rest.lstrip(" ")
        path = arg.partition(">")[0]
        if _BARE_SPACE.search(_QUOTED_STRING.sub("", path)):
            return None, None  # aiosmtpd would quietly quote `<a b@x>` into `"a b"@x`: RFC 5321 has no such path
        return super()._getaddr(arg)

    @property
    def in_transaction(self) -> bool:
        return bool(self.envelope is not None and self.envelope.mail_from is not None)


ACCEPT_BATCH = 64  # connections asyncio accepts per loop turn and listener


class IntakeServer:
    """The listening sockets; `start()` binds every configured address before returning."""

    def __init__(self, settings: Settings, handler: IntakeHandler) -> None:
        self.settings = settings
        self.handler = handler
        self.servers: list[asyncio.base_events.Server] = []
        self.sessions: set[_Session] = set()
        self._ssl = tls_context(settings)
        self.descriptors = DescriptorBudget(0, 0, 0)
        self.gate = Gate(self._limits())
        self.refusals = RateLog(interval=10.0)
        self.memory = MemoryBudget(int(settings.intake.data_memory_budget))

    def _limits(self) -> SessionLimits:
        s = self.settings.intake
        total = s.max_sessions
        if self.descriptors.soft:
            total = min(total, self.descriptors.sessions)
        return SessionLimits(
            max_sessions=total,
            max_untrusted=min(s.max_untrusted_sessions, total),
            per_client=s.max_sessions_per_client,
            rate_per_minute=s.connection_rate_limit,
        )

    def apply_settings(self, settings: Settings) -> None:
        """SIGHUP: the caps and timeouts change for new sessions; live sessions keep their slot."""
        self.settings = settings
        self.gate.limits = self._limits()
        self.memory.limit = int(settings.intake.data_memory_budget)

    def _protocol(self, *, implicit_tls: bool) -> SMTP:
        s = self.settings.intake
        return _Session(
            self.handler,
            self.sessions,
            self.gate,
            self.refusals,
            self.memory,
            data_size_limit=int(s.max_message_size),
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=s.hostname or None,
            ident="maild",
            tls_context=None if implicit_tls else self._ssl,
            timeout=s.idle_timeout,
            # implicit TLS is TLS already; STARTTLS sessions may AUTH only after the upgrade
            auth_require_tls=not implicit_tls,
            authenticator=self.handler.authenticate,
            loop=asyncio.get_running_loop(),
        )

    async def start(self) -> list[tuple[str, int]]:
        loop = asyncio.get_running_loop()
        s = self.settings.intake
        soft, hard = raise_descriptor_limit()
        reserve = s.descriptor_reserve + self.settings.delivery.concurrency + ACCEPT_BATCH
        self.descriptors = DescriptorBudget(soft, hard, reserve)
        self.gate.limits = self._limits()
        if self.gate.limits.max_sessions < s.max_sessions:
            log.warning(
                "intake_sessions_capped",
                max_sessions=self.gate.limits.max_sessions,
                configured=s.max_sessions,
                nofile=soft,
                reserve=reserve,
                fix="raise LimitNOFILE= in the unit (or ulimit -n)",
            )
        bound: list[tuple[str, int]] = []
        plans = [(a, False) for a in s.listen] + [(a, True) for a in s.tls_listen]
        for (host, port), implicit in plans:
            # backlog here is also how many connections asyncio accepts per loop turn: keep that small
            # (bounded descriptor spikes) and give the kernel queue its own, larger size below.
            server = await loop.create_server(
                (lambda implicit=implicit: self._protocol(implicit_tls=implicit)),
                host,
                port,
                ssl=self._ssl if implicit else None,
                reuse_address=True,
                backlog=ACCEPT_BATCH,
            )
            for sock in server.sockets:
                widen_backlog(sock, s.listen_backlog)
            self.servers.append(server)
            bound.extend(sock.getsockname()[:2] for sock in server.sockets)
        for addr in bound:
            log.info("intake_listening", address=f"{addr[0]}:{addr[1]}")
        log.info("intake_limits", **{k: v for k, v in vars(self.gate.limits).items()}, nofile=soft)
        return bound

    async def stop(self, timeout: float = 30.0) -> None:
        """Stop accepting and let transactions in progress finish, up to `timeout`.

        While draining, the listeners stay open so a new session is told
        `421` (and retries later) instead of meeting a refused connection; a
        new MAIL FROM in an open session gets 421 too.
        """
        self.handler.closing = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        # Polled: sessions finish DATA in their own tasks, and a deadline bounds the wait.
        while any(s.in_transaction for s in list(self.sessions)) and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        busy = sum(1 for s in self.sessions if s.in_transaction)
        if busy:
            log.warning("intake_drain_timeout", sessions=busy)
        for server in self.servers:
            server.close()
        for session in list(self.sessions):
            if session.transport is not None:
                session.transport.close()
        self.servers.clear()
        log.info("intake_stopped")


def build_intake(settings: Settings, store: StoreWrites, keys: tokens.KeySet, on_spooled: Callable[[], None]) -> IntakeServer:
    users = load_users(settings.intake.users_file) if settings.intake.users_file else None
    return IntakeServer(settings, IntakeHandler(settings, store, keys, on_spooled=on_spooled, users=users))
