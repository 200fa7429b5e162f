"""IMAP receipts source: SELECT the receipts folder, fetch new UIDs in batches, ingest, then MOVE them; IDLE in between.

A runner (maild.receipts.runner: one round is one session, a failed one is
retried with backoff and jitter) over `imap_session` (every command under a
hard timeout, abandoned as soon as the connection drops), the UID state of
`imap_state` (UIDVALIDITY and the last UID moved out, kept in the store; a
changed UIDVALIDITY rescans from UID 1) and the pure helpers of `imap_proto`. A message leaves the folder
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
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from maild import clock as clockmod
from maild import logs
from maild.config import ReceiptSource
from maild.receipts import imap_proto as p
from maild.receipts.imap_session import (
    ImapError,
    ImapSession,
    ImapTlsUnavailable,
    response_text,
)
from maild.receipts.imap_state import (
    DoneUids,
    FolderState,
    advance,
    load_state,
    on_select,
    save_state,
)
from maild.receipts.ingest import IngestOutcome
from maild.receipts.port import ReportIngestor
from maild.receipts.quarantine import raw_limit
from maild.receipts.runner import Runner
from maild.reports.clues import ParseHints
from maild.store import StorePort

__all__ = ["FIRST_BACKOFF", "MAX_BACKOFF", "FolderState", "ImapError", "ImapSource", "ImapTlsUnavailable", "load_state", "save_state"]

log = logs.get("receipts.imap")

FIRST_BACKOFF = 0.5
MAX_BACKOFF = 300.0
FETCH_BUDGET = 32 * 1024 * 1024  # most message bytes one UID FETCH ... (BODY.PEEK[]) asks for (by RFC822.SIZE)


class ImapSource(Runner):
    """Follows one IMAP folder until stopped; see the module docstring."""

    first_backoff = FIRST_BACKOFF
    max_backoff = MAX_BACKOFF

    def __init__(
        self, settings: ReceiptSource, ingestor: ReportIngestor, store: StorePort, clock: Callable[[], datetime] = clockmod.now,
    ) -> None:
        super().__init__(settings.url.display())
        self.settings = settings
        self.url = settings.url
        self.ingestor = ingestor
        self.store = store
        self.clock = clock
        self.fetch_budget = FETCH_BUDGET
        # UIDs above last_uid whose outcome is committed and that were moved (or, without UIDPLUS, copied and
        # flagged): last_uid waits below a message FETCH did not return, and these must not be taken again.
        self._done = DoneUids()
        self._session: ImapSession | None = None
        self.log = log.bind(source=self.name)

    async def round(self) -> None:
        """One session: connect, select, then drain and IDLE (or poll) until stop() or a failure."""
        self._session = ImapSession(self.url, self.settings, self.settings.command_timeout)
        await self._follow(self._session)

    def log_failure(self, error: Exception, retry_in: float) -> None:
        self.log.warning("imap_session_failed", error=str(error)[:300], error_type=type(error).__name__,
                         failures=self.stats.failures, retry_in=round(retry_in, 2))

    async def finish_round(self) -> None:
        self.stats.connected = False
        if self._session is not None:
            await self._session.close()

    async def _password(self) -> str:
        if self.url.password is not None:
            return self.url.password
        path = self.settings.password_file
        if path is None:
            raise ImapError("no password: set password_file for this [[receipts]] source")
        text = await asyncio.to_thread(Path(path).read_text, "utf-8")
        return text.rstrip("\r\n")

    async def _follow(self, s: ImapSession) -> None:
        await s.open(await self._password())
        assert s.imap is not None
        for folder in (self.settings.processed_folder, self.settings.quarantine_folder):
            response = await s.call(s.imap.create(p.quote(folder)), f"create {folder}")
            if response.result != "OK" and not p.already_exists(response.lines):
                raise ImapError(f"create {folder} refused: {response_text(response.lines)}")
        selected = await s.ok(s.imap.select(p.quote(self.url.folder)), f"select {self.url.folder}")
        validity = p.uidvalidity(selected.lines)
        if validity is None:
            raise ImapError("select: the server sent no UIDVALIDITY")
        stored = await self.store.read(lambda db: load_state(db, self.name))
        state = on_select(stored, validity)
        if state is not stored:  # none yet, or a new UIDVALIDITY: rescan everything (recording is idempotent)
            if stored is not None:
                self.log.warning("imap_uidvalidity_changed", old=stored.uidvalidity, new=validity)
            now = self.clock()
            await self.store.write(lambda db: save_state(db, self.name, state, now))
        self.stats.connected = True
        self.stats.sessions += 1
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

    async def _pause(self, s: ImapSession, seconds: float) -> None:
        waiters = {asyncio.ensure_future(self._stop.wait()), asyncio.ensure_future(s.lost.wait())}
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        for w in waiters:
            w.cancel()
        if s.lost.is_set() and not self._stop.is_set():
            raise ImapError("connection lost while waiting")

    async def _drain(self, s: ImapSession, state: FolderState) -> FolderState:
        """Ingest and move every message above last_uid; returns the new state.

        A message that FETCH does not return while the folder still holds it is left for the next drain (after
        IDLE or the poll interval), not asked for again in a loop.
        """
        assert s.imap is not None
        skip: set[int] = set()
        while not self._stop.is_set():
            s.exists_seen = False  # what the search below cannot see is announced by an EXISTS after this point
            found = await s.ok(s.imap.uid_search(f"UID {state.last_uid + 1}:*", charset=None), "uid search")
            done = self._done.above(state)
            uids = [u for u in p.search_uids(found.lines, above=state.last_uid) if u not in skip and u not in done]
            if not uids:
                return state
            for batch in p.chunks(uids, self.settings.batch_size):
                state = await self._batch(s, state, batch, skip)
        return state

    def _parse_limit(self) -> int:
        """The parser's size limit (ParseHints.max_bytes): a bigger message is not fetched whole."""
        hints = getattr(self.ingestor, "hints", None)
        return int(getattr(hints, "max_bytes", ParseHints().max_bytes))  # a slotted record: no class default

    async def _fetch(
        self, s: ImapSession, uids: list[int], items: str, parse: Callable[[Any], Any]
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

    async def _still_present(self, s: ImapSession, uids: list[int]) -> list[int]:
        """Which of these UIDs the folder still holds (UID SEARCH UID set)."""
        assert s.imap is not None
        found = await s.ok(s.imap.uid_search(f"UID {p.uid_set(uids)}", charset=None), "uid search")
        return sorted(set(p.search_uids(found.lines)) & set(uids))

    async def _batch(self, s: ImapSession, state: FolderState, batch: list[int], skip: set[int] | None = None) -> FolderState:
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
            held_back: IngestOutcome | BaseException
            try:
                held_back = await self.ingestor.quarantine_too_large(head, sizes[uid], "imap", ref(uid), max_raw=keep)
            except Exception as exc:  # noqa: BLE001 - like a failed ingest: kept in the folder for the retry
                held_back = exc
            sort(uid, held_back)

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
        done = self._done.above(state)
        done.update(processed + held)
        # Never past a message that failed (it stays in the folder and is fetched again after the backoff), nor past
        # one FETCH did not return but the folder still holds (in this batch or an earlier one of this drain: it is
        # fetched again at the next drain); up to the highest UID done otherwise.
        new_state = advance(state, batch, done, waiting=failed + stuck + [u for u in (skip or ()) if u > state.last_uid])
        if new_state != state:
            now = self.clock()
            await self.store.write(lambda db: save_state(db, self.name, new_state, now))
        self.log.debug("imap_batch_done", fetched=len(processed) + len(held) + len(failed), processed=len(processed),
                       quarantined=len(held), failed=len(failed), missing=len(missing), last_uid=new_state.last_uid)
        if errors:
            first_error = errors[0]
            raise ImapError(f"ingest failed, will retry: {type(first_error).__name__}: {first_error}")
        return new_state

    async def _move(self, s: ImapSession, uids: list[int], folder: str) -> None:
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

    async def _idle(self, s: ImapSession) -> None:
        """IDLE until the server pushes anything, the keepalive or renewal time comes (RFC 2177: under 29 minutes),
        or stop(); left at once when an EXISTS arrived since the last search (mail in the gap before IDLE)."""
        assert s.imap is not None
        protocol = s.imap.protocol
        while not protocol.idle_queue.empty():  # pushes left over from an earlier IDLE (the search since saw them)
            protocol.idle_queue.get_nowait()
        idle = asyncio.ensure_future(s.imap.idle())
        self.stats.idles += 1
        try:
            await s.call(asyncio.shield(_first(idle, protocol.wait_for_idle_response())), "idle")
            if idle.done():  # the server answered IDLE with a tagged NO/BAD
                raise ImapError(f"idle refused: {response_text(idle.result().lines)}")
            if s.exists_seen:  # announced between the last UID SEARCH and now (possibly dropped by aioimaplib)
                reason = "pending"
            else:
                reason = await self._idle_wait_for_event(s, protocol)
            self.stats.idle_exits[reason] = self.stats.idle_exits.get(reason, 0) + 1
            self.log.debug("imap_idle_left", reason=reason)
            protocol.idle_done()
            await s.ok(idle, "idle done")
        finally:
            if not idle.done():
                idle.cancel()

    async def _idle_wait_for_event(self, s: ImapSession, protocol: Any) -> str:
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
