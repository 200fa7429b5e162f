"""IMAP inbound source: follow the helpdesk's support mailbox read-only (EXAMINE, BODY.PEEK of a few header fields).

The session (`maild.receipts.imap_session`), the runner's reconnects with
backoff, IDLE, the FETCH-gap handling and the pure UID state machine
(`maild.receipts.imap_state`) are the receipts IMAP source's; this source
replaces what it does in the folder: EXAMINE instead of SELECT, no CREATE, and per batch one
`UID FETCH (UID BODY.PEEK[HEADER.FIELDS (...)])` of the fields in
`maild.inbound.headers.FIELDS`, never a body, never a STORE, COPY, MOVE or
EXPUNGE. The helpdesk owns that mailbox: its messages and flags stay as they
were. What was looked at is kept in `inbound_state` (UIDVALIDITY, last UID),
advanced in the transaction that records the batch's answers, so a restart
neither misses nor doubles anything; a changed UIDVALIDITY rescans from UID 1
(recording is idempotent on each answer's key).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import cast, Any

import aioimaplib
import sqlite_utils

from maild.receipts.port import ReportIngestor
from maild import clock as clockmod
from maild import logs
from maild.clock import iso
from maild.config import InboundSource, ReceiptSource
from maild.inbound.headers import FIELDS, InboundHeaders, read_headers
from maild.inbound.match import Recorded, Verdict, record_answer
from maild.receipts import imap_proto as p
from maild.receipts.imap import ImapSource
from maild.receipts.imap_session import ImapError, ImapSession, response_text
from maild.receipts.imap_state import FolderState, advance, on_select

log = logs.get("inbound.imap")

FETCH_ITEMS = f"(UID BODY.PEEK[HEADER.FIELDS ({' '.join(FIELDS)})])"


@dataclass
class InboundStats:
    """Counters of one inbound source since start (tests, /metrics, the benchmark)."""

    seen: int = 0  # messages looked at
    replies: int = 0  # answers from a recipient (replied events recorded now)
    third_party: int = 0
    automatic: int = 0
    not_ours: int = 0  # naming no reply maild sent: nothing recorded
    duplicates: int = 0  # recorded before (a restart, another source)
    unreadable: int = 0  # header fields maild could not read: nothing recorded, logged

    def count(self, recorded: Recorded) -> None:
        self.seen += 1
        if recorded.duplicate:
            self.duplicates += 1
            return
        verdict = recorded.decision.verdict
        if verdict is Verdict.REPLY:
            self.replies += 1
        elif verdict is Verdict.THIRD_PARTY:
            self.third_party += 1
        elif verdict is Verdict.AUTOMATIC:
            self.automatic += 1
        else:
            self.not_ours += 1


def load_state(db: sqlite_utils.Database, source: str) -> FolderState | None:
    row = db.execute("SELECT uidvalidity, last_uid FROM inbound_state WHERE source = ?", (source,)).fetchone()
    return FolderState(int(row[0]), int(row[1])) if row else None


def save_state(db: sqlite_utils.Database, source: str, state: FolderState, now: datetime) -> None:
    db.execute(
        """INSERT INTO inbound_state (source, uidvalidity, last_uid, updated_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (source) DO UPDATE SET uidvalidity = excluded.uidvalidity, last_uid = excluded.last_uid,
                                              updated_at = excluded.updated_at""",
        (source, state.uidvalidity, state.last_uid, iso(now)),
    )


def record_batch(
    db: sqlite_utils.Database, answers: list[tuple[int, InboundHeaders]], *, source: str, state: FolderState, now: datetime,
) -> list[Recorded]:
    """Record a batch's answers and the new folder state in one transaction (run in the writer)."""
    out = [
        record_answer(db, h, source=source, via="imap", ref=f"{state.uidvalidity}:{uid}", now=now) for uid, h in answers
    ]
    save_state(db, source, state, now)
    return out


def session_settings(settings: InboundSource) -> ReceiptSource:
    """The connection settings the shared IMAP session reads, from an [[inbound]] table (no folders to move to)."""
    return ReceiptSource(
        url=settings.url, password_file=settings.password_file, starttls=settings.starttls,
        tls_ca_file=settings.tls_ca_file, processed_folder="", quarantine_folder="",
        poll_interval=settings.poll_interval, idle_renew=settings.idle_renew, batch_size=settings.batch_size,
        command_timeout=settings.command_timeout, idle_keepalive=settings.idle_keepalive, quarantine_max_bytes=0,
    )


class InboundImapSource(ImapSource):
    """Follows one IMAP folder read-only until stopped; see the module docstring."""

    def __init__(
        self, settings: InboundSource, store: Any, clock: Callable[[], datetime] = clockmod.now,
    ) -> None:
        # No ingestor: an inbound source overrides every step that would hand a report to one.
        super().__init__(session_settings(settings), cast(ReportIngestor, None), store, clock)
        self.inbound = settings
        self.name = "inbound " + self.url.display()  # apart from a [[receipts]] source on the same folder
        self.log = log.bind(source=self.name)
        self.counts = InboundStats()

    async def _examine(self, s: ImapSession) -> int:
        """EXAMINE the folder (read-only: RFC 3501 §6.3.2, no flag changes, not even \\Recent); its UIDVALIDITY."""
        assert s.imap is not None
        protocol = s.imap.protocol
        command = aioimaplib.Command("EXAMINE", protocol.new_tag(), p.quote(self.url.folder), loop=protocol.loop)
        response = await s.call(protocol.execute(command), f"examine {self.url.folder}")
        if response.result != "OK":
            raise ImapError(f"examine {self.url.folder} refused: {response_text(response.lines)}")
        protocol.state = aioimaplib.SELECTED  # aioimaplib only knows SELECT; UID commands need this state
        validity = p.uidvalidity(response.lines)
        if validity is None:
            raise ImapError("examine: the server sent no UIDVALIDITY")
        return validity

    async def _follow(self, s: ImapSession) -> None:
        await s.open(await self._password())
        validity = await self._examine(s)
        stored = await self.store.read(lambda db: load_state(db, self.name))
        state = on_select(stored, validity)
        if state is not stored:  # none yet, or a new UIDVALIDITY: rescan (each answer is recorded once whatever happens)
            if stored is not None:
                self.log.warning("inbound_uidvalidity_changed", old=stored.uidvalidity, new=validity)
            now = self.clock()
            await self.store.write(lambda db: save_state(db, self.name, state, now))
        self.stats.connected = True
        self.stats.sessions += 1
        self.log.info("inbound_session_ready", uidvalidity=validity, last_uid=state.last_uid,
                      idle="IDLE" in s.capabilities)
        while not self._stop.is_set():
            state = await self._drain(s, state)
            if self._stop.is_set():
                return
            if "IDLE" in s.capabilities:
                await self._idle(s)
            else:
                await self._pause(s, self.settings.poll_interval)

    async def _batch(self, s: ImapSession, state: FolderState, batch: list[int], skip: set[int] | None = None) -> FolderState:
        """The header fields of a batch, matched and recorded with the new last UID in one transaction.

        last_uid never passes a message FETCH did not return while the folder still holds it (fetched again at the
        next drain).
        """
        heads, missing = await self._fetch(s, batch, FETCH_ITEMS, p.fetched_messages)
        answers: list[tuple[int, InboundHeaders]] = []
        for uid in batch:
            if uid not in heads:
                continue
            try:
                answers.append((uid, read_headers(heads[uid])))
            except Exception as exc:  # noqa: BLE001 - hostile header bytes: logged and counted, never a crash
                self.counts.unreadable += 1
                self.log.warning("inbound_unreadable", uid=uid, error=f"{type(exc).__name__}: {exc}"[:200])
        stuck: list[int] = []
        if missing:
            stuck = await self._still_present(s, sorted(set(missing)))
            self.stats.fetch_missing += len(missing)
            self.log.warning("imap_fetch_missing", uids=p.uid_set(missing), still_present=p.uid_set(stuck) if stuck else "")
            if skip is not None:
                skip.update(stuck)
        new_state = advance(state, batch, (), waiting=stuck + [u for u in (skip or ()) if u > state.last_uid])
        now = self.clock()
        recorded = await self.store.write(
            lambda db: record_batch(db, answers, source=self.name, state=new_state, now=now)
        )
        for (uid, _), r in zip(answers, recorded, strict=True):
            self.counts.count(r)
            if r.decision.verdict is not Verdict.NOT_OURS:
                self.log.info("inbound_answer", uid=uid, verdict=str(r.decision.verdict), events=r.events,
                              duplicate=r.duplicate, matched_by=r.decision.matched_by, why=r.decision.why)
        self.log.debug("inbound_batch_done", fetched=len(answers), last_uid=new_state.last_uid)
        return new_state

    def _parse_limit(self) -> int:
        return 0  # no body is ever fetched
