"""IMAP receipts source: SELECT the receipts folder, fetch new UIDs in batches, ingest, then MOVE them; IDLE in between.

A thin shell around aioimaplib and the pure helpers in `imap_proto`: every
command runs under a hard timeout and is abandoned as soon as the connection
drops (aioimaplib itself would wait forever); any failure closes the session
and reconnects with exponential backoff and jitter. UIDVALIDITY and the last
UID moved out are kept in the store; a changed UIDVALIDITY rescans from UID 1
(exactly-once recording makes the rescan safe). A message leaves the folder
only after its outcome is committed, and maild only ever moves the UIDs it
processed itself.

Moving: UID MOVE (RFC 6851) when offered; otherwise UID COPY, UID STORE
+FLAGS.SILENT (\\Deleted) and, with UIDPLUS (RFC 4315), UID EXPUNGE of exactly
those UIDs. Without UIDPLUS maild never expunges: a plain EXPUNGE would also
remove every message someone else flagged \\Deleted, including ones maild has
not read yet. The originals then stay in the folder flagged \\Deleted
(for the owner's client or an autoexpunge rule to remove), last_uid keeps them
from being fetched again, and `imap_no_uidplus` is logged once per session.

Fetching: a batch's sizes first (`UID FETCH (UID RFC822.SIZE)`); bodies then in
FETCHes of at most FETCH_BUDGET bytes, each batch ingested before the next is
fetched. A message bigger than the parser's limit (ParseHints.max_bytes) is
fetched only in part (`BODY.PEEK[]<0.N>`, N = quarantine_max_bytes) and held
as `too_large` (truncated) in the quarantine folder. A UID a FETCH answer
leaves out is asked for once more; still missing, it is logged
(`imap_fetch_missing`) and counted (`stats.fetch_missing`), and last_uid stays
below it for as long as UID SEARCH says the folder holds it (it is tried again
at the next drain); an expunged one is passed.

IDLE: entered when offered, left as soon as the server pushes anything, and in
any case after `idle_keepalive` (a liveness check: the DONE and the following
UID SEARCH must be answered within command_timeout, so a half-open connection
is replaced within idle_keepalive + command_timeout) or `idle_renew` (RFC 2177).
An `* N EXISTS` the server sends outside IDLE (unsolicited, or with the answer
to a SEARCH, FETCH, COPY or MOVE) is dropped by aioimaplib; the protocol below
notes every EXISTS line, and a note taken since the last UID SEARCH makes maild
leave IDLE right after the server's continuation and search again, so a
message that arrived between the last search and IDLE is not left waiting for
the next keepalive.
"""

from __future__ import annotations

import asyncio
import math
import re
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import aioimaplib
import sqlite_utils

from maild import clock as clockmod
from maild import logs
from maild.clock import iso
from maild.config import ReceiptSource
from maild.core.backoff import backoff, half_jitter
from maild.core.urls import Scheme, SourceUrl
from maild.errors import TransientError
from maild.receipts import imap_proto as p
from maild.receipts.ingest import IngestOutcome
from maild.receipts.quarantine import raw_limit
from maild.reports.correlation import ParseHints

log = logs.get("receipts.imap")
T = TypeVar("T")

FIRST_BACKOFF = 0.5
MAX_BACKOFF = 300.0
FETCH_BUDGET = 32 * 1024 * 1024  # most message bytes one UID FETCH ... (BODY.PEEK[]) asks for (by RFC822.SIZE)


class ImapError(TransientError):
    """The IMAP session failed (dropped, timed out, refused a command); the source reconnects."""


class ImapTlsUnavailable(ImapError):
    """STARTTLS is required but the server does not offer it: never fall back to plain text."""


@dataclass
class ImapStats:
    """Counters of one IMAP source since start (tests; for /metrics)."""

    fetch_missing: int = 0  # UIDs a FETCH did not return even when asked again (logged as imap_fetch_missing)
    too_large: int = 0  # messages over the parser's limit: fetched only in part and quarantined as too_large


@dataclass(frozen=True, slots=True)
class FolderState:
    uidvalidity: int
    last_uid: int


def load_state(db: sqlite_utils.Database, source: str) -> FolderState | None:
    row = db.execute("SELECT uidvalidity, last_uid FROM imap_state WHERE source = ?", (source,)).fetchone()
    return FolderState(int(row[0]), int(row[1])) if row else None


def save_state(db: sqlite_utils.Database, source: str, state: FolderState, now: datetime) -> None:
    db.execute(
        """INSERT INTO imap_state (source, uidvalidity, last_uid, updated_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (source) DO UPDATE SET uidvalidity = excluded.uidvalidity, last_uid = excluded.last_uid,
                                              updated_at = excluded.updated_at""",
        (source, state.uidvalidity, state.last_uid, iso(now)),
    )


_EXISTS_LINE = re.compile(rb"^\* \d+ EXISTS\b", re.I)


class _Protocol(aioimaplib.IMAP4ClientProtocol):
    """aioimaplib's protocol, telling the session about every `* N EXISTS` (aioimaplib drops those it does not expect)."""

    on_exists: Callable[[], None] | None = None

    def _handle_line(self, line: bytes, current_cmd: Any) -> Any:
        if self.on_exists is not None and _EXISTS_LINE.match(line):
            self.on_exists()
        return super()._handle_line(line, current_cmd)


class _Client(aioimaplib.IMAP4):
    """aioimaplib.IMAP4 with `_Protocol` (same connection code as aioimaplib 2.0's create_client)."""

    def create_client(
        self, host: str, port: int, loop: asyncio.AbstractEventLoop | None,
        conn_lost_cb: Callable[[Exception | None], None] | None = None, ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        local_loop = loop if loop is not None else asyncio.get_running_loop()
        self.protocol = _Protocol(local_loop, conn_lost_cb)
        self._client_task = local_loop.create_task(
            local_loop.create_connection(lambda: self.protocol, host, port, ssl=ssl_context)
        )


class _Session:
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
            raise ImapError(f"{what} refused: {_text(response.lines)}")
        return response

    def _tls_context(self) -> ssl.SSLContext:
        ca = self.settings.tls_ca_file
        return ssl.create_default_context(cafile=str(ca) if ca else None)

    async def open(self, password: str) -> None:
        url = self.url
        ctx = self._tls_context() if url.scheme is Scheme.IMAPS else None
        self.imap = _Client(url.host, url.port, timeout=self.timeout, conn_lost_cb=self._on_lost, ssl_context=ctx)
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
            raise ImapTlsUnavailable(f"starttls refused: {_text(response.lines)}")
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


def _text(lines: list[Any]) -> str:
    return " ".join(bytes(x).decode("utf-8", "replace") for x in lines if isinstance(x, (bytes, bytearray)))[:200]


class ImapSource:
    """Follows one IMAP folder until stopped; see the module docstring."""

    def __init__(
        self, settings: ReceiptSource, ingestor: Any, store: Any, clock: Callable[[], datetime] = clockmod.now,
        *, base_dir: Path | None = None,
    ) -> None:
        self.settings = settings
        self.url = settings.url
        self.name = self.url.display()
        self.ingestor = ingestor
        self.store = store
        self.clock = clock
        self.connected = False
        self.sessions = 0  # connections that reached SELECT (tests and /metrics)
        self.idles = 0  # IDLE commands issued (each renewal counts)
        self.idle_exits: dict[str, int] = {}  # why IDLE was left: push, renew, keepalive, pending (tests, /metrics)
        self.failures = 0  # consecutive failed sessions
        self.last_error: str | None = None
        self.stats = ImapStats()
        self.fetch_budget = FETCH_BUDGET
        # UIDs above last_uid whose outcome is committed and that were moved (or, without UIDPLUS, copied and
        # flagged): last_uid waits below a message FETCH did not return, and these must not be taken again.
        self._done: tuple[int, set[int]] = (0, set())
        self._stop = asyncio.Event()
        self._session: _Session | None = None
        self.log = log.bind(source=self.name)

    async def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            session = _Session(self.url, self.settings, self.settings.command_timeout)
            self._session = session
            try:
                await self._follow(session)
                failures = self.failures = 0
            except Exception as exc:  # noqa: BLE001 - any failure: drop the session, back off, reconnect
                failures += 1
                self.failures, self.last_error = failures, f"{type(exc).__name__}: {exc}"[:300]
                delay = backoff(failures, FIRST_BACKOFF, MAX_BACKOFF, jitter=half_jitter)
                self.log.warning("imap_session_failed", error=str(exc)[:300], error_type=type(exc).__name__,
                                 failures=failures, retry_in=round(delay, 2))
            finally:
                self.connected = False
                await session.close()
            if failures and not self._stop.is_set():
                try:
                    await asyncio.wait_for(self._stop.wait(), delay)
                except TimeoutError:
                    pass

    async def _password(self) -> str:
        if self.url.password is not None:
            return self.url.password
        path = self.settings.password_file
        if path is None:
            raise ImapError("no password: set password_file for this [[receipts]] source")
        text = await asyncio.to_thread(Path(path).read_text, "utf-8")
        return text.rstrip("\r\n")

    async def _follow(self, s: _Session) -> None:
        await s.open(await self._password())
        assert s.imap is not None
        for folder in (self.settings.processed_folder, self.settings.quarantine_folder):
            response = await s.call(s.imap.create(p.quote(folder)), f"create {folder}")
            if response.result != "OK" and not p.already_exists(response.lines):
                raise ImapError(f"create {folder} refused: {_text(response.lines)}")
        selected = await s.ok(s.imap.select(p.quote(self.url.folder)), f"select {self.url.folder}")
        validity = p.uidvalidity(selected.lines)
        if validity is None:
            raise ImapError("select: the server sent no UIDVALIDITY")
        state = await self.store.read(lambda db: load_state(db, self.name))
        if state is None or state.uidvalidity != validity:
            if state is not None:
                self.log.warning("imap_uidvalidity_changed", old=state.uidvalidity, new=validity)
            state = FolderState(validity, 0)  # rescan everything: recording is idempotent, nothing is skipped
            now = self.clock()
            await self.store.write(lambda db: save_state(db, self.name, state, now))
        self.connected = True
        self.sessions += 1
        self.log.info("imap_session_ready", uidvalidity=validity, last_uid=state.last_uid,
                      idle="IDLE" in s.capabilities, move="MOVE" in s.capabilities)
        while not self._stop.is_set():
            state = await self._drain(s, state)
            if self._stop.is_set():
                return
            if "IDLE" in s.capabilities:
                await self._idle(s)
            else:
                await self._pause(s, self.settings.poll_interval)

    async def _pause(self, s: _Session, seconds: float) -> None:
        waiters = {asyncio.ensure_future(self._stop.wait()), asyncio.ensure_future(s.lost.wait())}
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        for w in waiters:
            w.cancel()
        if s.lost.is_set() and not self._stop.is_set():
            raise ImapError("connection lost while waiting")

    async def _drain(self, s: _Session, state: FolderState) -> FolderState:
        """Ingest and move every message above last_uid; returns the new state.

        A message that FETCH does not return while the folder still holds it is left for the next drain (after
        IDLE or the poll interval), not asked for again in a loop.
        """
        assert s.imap is not None
        skip: set[int] = set()
        while not self._stop.is_set():
            s.exists_seen = False  # what the search below cannot see is announced by an EXISTS after this point
            found = await s.ok(s.imap.uid_search(f"UID {state.last_uid + 1}:*", charset=None), "uid search")
            done = self._done_uids(state)
            uids = [u for u in p.search_uids(found.lines, above=state.last_uid) if u not in skip and u not in done]
            if not uids:
                return state
            for batch in p.chunks(uids, self.settings.batch_size):
                state = await self._batch(s, state, batch, skip)
        return state

    def _done_uids(self, state: FolderState) -> set[int]:
        validity, done = self._done
        if validity != state.uidvalidity:
            self._done = (state.uidvalidity, set())
            return self._done[1]
        done.difference_update([u for u in done if u <= state.last_uid])
        return done

    def _parse_limit(self) -> int:
        """The parser's size limit (ParseHints.max_bytes): a bigger message is not fetched whole."""
        hints = getattr(self.ingestor, "hints", None)
        return int(getattr(hints, "max_bytes", ParseHints.max_bytes))

    async def _fetch(
        self, s: _Session, uids: list[int], items: str, parse: Callable[[Any], Any]
    ) -> tuple[dict[int, Any], list[int]]:
        """UID FETCH `items` of `uids`; the UIDs the answer lacks (expunged meanwhile, or an answer maild could not
        read) are asked for once more. Returns {uid: parsed value} and the UIDs still missing."""
        assert s.imap is not None
        found: dict[int, Any] = {}
        wanted = list(uids)
        for _ in range(2):
            response = await s.ok(s.imap.uid("fetch", p.uid_set(wanted), items), "uid fetch")
            asked = set(wanted)
            for uid, value in dict(parse(response.lines)).items():
                if uid in asked and uid not in found:
                    found[uid] = value
            wanted = [u for u in wanted if u not in found]
            if not wanted:
                break
        return found, wanted

    async def _still_present(self, s: _Session, uids: list[int]) -> list[int]:
        """Which of these UIDs the folder still holds (UID SEARCH UID set)."""
        assert s.imap is not None
        found = await s.ok(s.imap.uid_search(f"UID {p.uid_set(uids)}", charset=None), "uid search")
        return sorted(set(p.search_uids(found.lines)) & set(uids))

    async def _batch(self, s: _Session, state: FolderState, batch: list[int], skip: set[int] | None = None) -> FolderState:
        """Sizes first (RFC822.SIZE); then bodies in FETCHes of at most `fetch_budget` bytes, each ingested before
        the next is fetched; a message over the parser's limit only in part (its first quarantine_max_bytes), held
        as too_large. last_uid never passes a message that failed, nor one FETCH did not return that is still there.
        """
        assert s.imap is not None
        limit = self._parse_limit()
        keep = raw_limit(self.settings.quarantine_max_bytes)
        sizes, missing = await self._fetch(s, batch, "(UID RFC822.SIZE)", p.fetched_sizes)
        small = [u for u in batch if u in sizes and sizes[u] <= limit]
        large = [u for u in batch if u in sizes and sizes[u] > limit]
        processed: list[int] = []
        held: list[int] = []
        failed: list[int] = []
        errors: list[BaseException] = []

        def sort(uid: int, outcome: Any) -> None:
            if isinstance(outcome, BaseException):
                failed.append(uid)
                errors.append(outcome)
            elif isinstance(outcome, IngestOutcome) and outcome.quarantined:
                held.append(uid)
            else:
                processed.append(uid)

        def ref(uid: int) -> str:
            return f"{state.uidvalidity}:{uid}"

        for group in p.size_groups(small, sizes, self.fetch_budget):
            bodies, gone = await self._fetch(s, group, "(BODY.PEEK[])", p.fetched_messages)
            missing.extend(gone)
            order = [u for u in group if u in bodies]
            outcomes = await asyncio.gather(
                *(self.ingestor.ingest(bodies[uid], "imap", ref(uid), max_raw=keep) for uid in order),
                return_exceptions=True,
            )
            bodies.clear()  # one budget's worth of messages in memory at a time
            for uid, outcome in zip(order, outcomes, strict=True):
                sort(uid, outcome)
        for uid in large:
            head = b""
            if keep > 0:
                heads, gone = await self._fetch(s, [uid], f"(BODY.PEEK[]<0.{min(keep, sizes[uid])}>)", p.fetched_messages)
                if gone:
                    missing.extend(gone)
                    continue
                head = heads[uid][:keep]
            self.stats.too_large += 1
            self.log.warning("imap_message_too_large", uid=uid, size=sizes[uid], limit=limit, kept=len(head))
            try:
                outcome: Any = await self.ingestor.quarantine_too_large(head, sizes[uid], "imap", ref(uid), max_raw=keep)
            except Exception as exc:  # noqa: BLE001 - like a failed ingest: kept in the folder for the retry
                outcome = exc
            sort(uid, outcome)

        stuck: list[int] = []
        if missing:
            missing = sorted(set(missing))
            stuck = await self._still_present(s, missing)
            self.stats.fetch_missing += len(missing)
            self.log.warning("imap_fetch_missing", uids=p.uid_set(missing), count=len(missing),
                             still_present=p.uid_set(stuck) if stuck else "", last_uid=state.last_uid)
            if skip is not None:
                skip.update(stuck)  # tried again at the next drain, not in a loop now
        if processed:
            await self._move(s, processed, self.settings.processed_folder)
        if held:
            await self._move(s, held, self.settings.quarantine_folder)
        done = self._done_uids(state)
        done.update(processed + held)
        # Never past a message that failed (it stays in the folder and is fetched again after the backoff), nor past
        # one FETCH did not return but the folder still holds (in this batch or an earlier one of this drain: it is
        # fetched again at the next drain); up to the highest UID done otherwise.
        waiting = failed + stuck + [u for u in (skip or ()) if u > state.last_uid]
        last = min(waiting) - 1 if waiting else max([*batch, *done])
        new_state = FolderState(state.uidvalidity, max(state.last_uid, last))
        if new_state != state:
            now = self.clock()
            await self.store.write(lambda db: save_state(db, self.name, new_state, now))
        self.log.debug("imap_batch_done", fetched=len(processed) + len(held) + len(failed), processed=len(processed),
                       quarantined=len(held), failed=len(failed), missing=len(missing), last_uid=new_state.last_uid)
        if errors:
            first_error = errors[0]
            raise ImapError(f"ingest failed, will retry: {type(first_error).__name__}: {first_error}")
        return new_state

    async def _move(self, s: _Session, uids: list[int], folder: str) -> None:
        """MOVE (RFC 6851) or COPY + \\Deleted + UID EXPUNGE of exactly these UIDs; never a plain EXPUNGE."""
        assert s.imap is not None
        uidset = p.uid_set(uids)
        target = p.quote(folder)
        if "MOVE" in s.capabilities:
            await s.ok(s.imap.uid("move", uidset, target), f"uid move to {folder}")
            return
        await s.ok(s.imap.uid("copy", uidset, target), f"uid copy to {folder}")
        await s.ok(s.imap.uid("store", uidset, "+FLAGS.SILENT", r"(\Deleted)"), "uid store \\Deleted")
        if "UIDPLUS" in s.capabilities:
            await s.ok(s.imap.uid("expunge", uidset), "uid expunge")
            return
        # Without UIDPLUS the originals stay flagged \Deleted: a plain EXPUNGE would also remove others' messages.
        if not s.no_uidplus_logged:
            s.no_uidplus_logged = True
            self.log.warning("imap_no_uidplus", folder=folder, uids=uidset,
                             note="server has neither MOVE nor UIDPLUS: copied and flagged \\Deleted, not expunged")

    def _idle_wait(self) -> float:
        keepalive = self.settings.idle_keepalive or 0
        return min(self.settings.idle_renew, keepalive if keepalive > 0 else math.inf)

    async def _idle(self, s: _Session) -> None:
        """IDLE until the server pushes anything, the keepalive or renewal time comes (RFC 2177: under 29 minutes),
        or stop(); left at once when an EXISTS arrived since the last search (mail in the gap before IDLE)."""
        assert s.imap is not None
        protocol = s.imap.protocol
        while not protocol.idle_queue.empty():  # pushes left over from an earlier IDLE (the search since saw them)
            protocol.idle_queue.get_nowait()
        idle = asyncio.ensure_future(s.imap.idle())
        self.idles += 1
        try:
            await s.call(asyncio.shield(_first(idle, protocol.wait_for_idle_response())), "idle")
            if idle.done():  # the server answered IDLE with a tagged NO/BAD
                raise ImapError(f"idle refused: {_text(idle.result().lines)}")
            if s.exists_seen:  # announced between the last UID SEARCH and now (possibly dropped by aioimaplib)
                reason = "pending"
            else:
                reason = await self._idle_wait_for_event(s, protocol)
            self.idle_exits[reason] = self.idle_exits.get(reason, 0) + 1
            self.log.debug("imap_idle_left", reason=reason)
            protocol.idle_done()
            await s.ok(idle, "idle done")
        finally:
            if not idle.done():
                idle.cancel()

    async def _idle_wait_for_event(self, s: _Session, protocol: Any) -> str:
        wait = self._idle_wait()
        push = asyncio.ensure_future(protocol.idle_queue.get())
        stop = asyncio.ensure_future(self._stop.wait())
        lost = asyncio.ensure_future(s.lost.wait())
        done, _ = await asyncio.wait({push, stop, lost}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
        for w in (push, stop, lost):
            w.cancel()
        if lost in done or s.lost.is_set():
            raise ImapError("connection lost during IDLE")
        if push in done and not push.cancelled():
            self.log.debug("imap_idle_push", new_mail=p.announces_new_mail(push.result()))
            return "push"
        if stop in done:
            return "stop"
        return "renew" if wait >= self.settings.idle_renew else "keepalive"


async def _first(a: Awaitable[Any], b: Awaitable[Any]) -> None:
    fa, fb = asyncio.ensure_future(a), asyncio.ensure_future(b)
    done, pending = await asyncio.wait({fa, fb}, return_when=asyncio.FIRST_COMPLETED)
    if fb in pending:
        fb.cancel()
