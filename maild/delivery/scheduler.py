"""The delivery scheduler: picks due recipients from the spool, sends their copies, records every outcome.

At-least-once: a recipient stays queued/deferred in the store until its
outcome is committed, so whatever is in flight at a crash is sent again after
restart. An in-memory set of in-flight recipient ids keeps one copy from being
picked twice while it is on its way. An outcome the store could not record
stays in flight (maild.delivery.unrecorded): written again, never sent again,
and nothing new is picked until it is written; it is also kept in the outcome
journal (maild.delivery.journal), which the next run records before it picks
anything, so a crash or a stop during an outage sends none of those again.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from datetime import datetime

import sqlite_utils

from maild import clock, logs
from maild.core.backoff import backoff
from maild.config import Settings
from maild.core.states import DeliveryState
from maild.core.stats import DeliveryStats
from maild.delivery import copies, jobs, transport
from maild.delivery.copies import Copy
from maild.delivery.journal import OutcomeJournal
from maild.delivery.outcome import Outcome, RetryPolicy, decide
from maild.delivery.transport import Answer, Transport
from maild.delivery.unrecorded import Unrecorded
from maild.ratelog import RateLog
from maild.store import StorePort
from maild.tokens import KeySet

log = logs.get("delivery")

PICK_COALESCE = 0.005  # seconds a wake waits for more wakes before reading the spool
RECORD_RETRY_FIRST = 0.5  # seconds before an outcome the store refused is written again, doubling...
RECORD_RETRY_MAX = 10.0  # ...up to this


class Scheduler:
    """Composition: built by the daemon with the settings, the store and the token keys."""

    def __init__(
        self,
        settings: Settings,
        store: StorePort,
        keys: KeySet,
        *,
        clock: Callable[[], datetime] = clock.now,
        transport_: Transport | None = None,
        journal: OutcomeJournal | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.keys = keys
        self.clock = clock
        d = settings.delivery
        self.policy = RetryPolicy(d.first_retry, d.max_retry, d.lifetime)
        self.transport = transport_ or transport.build(d, settings.base_dir, d.helo_name or socket.getfqdn())
        self._slots = asyncio.Semaphore(d.concurrency)
        self._max_pending = d.concurrency * 4
        self._in_flight: set[int] = set()
        self._finished_while_picking: set[int] | None = None
        self.unrecorded = Unrecorded()
        self.journal = journal
        self._journal_waiting = 0  # outcomes of an earlier run, in the journal, not yet in the store
        self._record_retry: asyncio.Task[None] | None = None
        self._ratelog = RateLog(interval=30.0)
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._stopping = False
        self._backlog = False
        self._outcome_batch: list[tuple[list[Outcome], asyncio.Future[None]]] = []
        self._writes: set[asyncio.Task[None]] = set()
        self._counts = {"accepted": 0, "deferred": 0, "failed": 0, "attempts": 0}

    # ------------------------------------------------------------ the daemon's interface

    def wake(self) -> None:
        self._wake.set()

    def stats(self) -> DeliveryStats:
        c = self._counts
        return DeliveryStats(
            len(self._in_flight), c["accepted"], c["deferred"], c["failed"], c["attempts"],
            len(self.unrecorded) + self._journal_waiting,
        )

    async def run(self) -> None:
        """Deliver until stop(): on every wake() and every delivery.poll_interval."""
        interval = self.settings.delivery.poll_interval
        log.info("delivery_started", upstream=str(self.settings.delivery.upstream), concurrency=self.settings.delivery.concurrency)
        await self._replay_journal()
        while not self._stopping:
            self._wake.clear()
            try:
                await self._start_due()
            except Exception as exc:  # a failing read must not stop delivery
                log.error("delivery_pick_failed", error=str(exc), error_type=type(exc).__name__)
            self.transport.reap_idle()
            if self._stopping:
                break
            try:
                async with asyncio.timeout(interval):
                    await self._wake.wait()
            except TimeoutError:
                pass
            else:
                # Under load wakes come every few milliseconds: gather them so one read picks many copies.
                await asyncio.sleep(PICK_COALESCE)

    async def stop(self, timeout: float) -> None:
        """Pick nothing more; let copies in flight finish for up to `timeout` seconds, then cancel them (they stay queued)."""
        self._stopping = True
        self._wake.set()
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
            for task in pending:
                task.cancel()
            if pending:
                log.warning("delivery_cancelled_in_flight", copies=len(pending))
                await asyncio.wait(pending)
        if self._writes:  # outcomes already on their way to the store
            await asyncio.wait(set(self._writes), timeout=timeout)
        if self._record_retry is not None:
            self._record_retry.cancel()
            await asyncio.gather(self._record_retry, return_exceptions=True)
        if self.unrecorded and not await self._write_unrecorded():
            if self.unrecorded.all_journaled():  # the next run records them before it sends anything
                log.warning("delivery_outcomes_kept_in_journal", outcomes=len(self.unrecorded), error=self.unrecorded.last_error)
            else:  # the spool still says queued: these go out again after the restart (at-least-once)
                log.error("delivery_outcomes_unrecorded_at_stop", outcomes=len(self.unrecorded), error=self.unrecorded.last_error)
        await self.transport.close()
        log.info("delivery_stopped")

    async def deliver_due(self) -> int:
        """One pass: send everything due now and wait for the outcomes; returns the number of copies attempted."""
        attempted = 0
        await self._replay_journal()
        while True:
            started = await self._start_due(limit=self.settings.delivery.batch_size)
            if not started:
                break
            attempted += len(started)
            await asyncio.gather(*started)
        return attempted

    # ------------------------------------------------------------ picking

    async def _start_due(self, limit: int | None = None) -> list[asyncio.Task[None]]:
        if self.unrecorded or self._journal_waiting:  # the store cannot take outcomes: send nothing until it takes these
            return []
        room = self._max_pending - len(self._tasks) if limit is None else limit
        if room <= 0:
            self._backlog = True
            return []
        batch = min(room, self.settings.delivery.batch_size)
        now = self.clock()
        skip = set(self._in_flight)
        self._finished_while_picking = set()
        try:
            due, messages = await self.store.read(lambda db: jobs.pick_due(db, now, batch, skip))
            late = self._finished_while_picking  # committed after our snapshot: stale rows
        finally:
            self._finished_while_picking = None
        due = [r for r in due if r.id not in self._in_flight and r.id not in late]
        self._backlog = len(due) >= batch
        if not due:
            return []
        planned = copies.plan(
            messages, due, return_path=self.settings.tracking.return_path, delimiter=self.settings.tracking.delimiter,
            pixel_base_url=self.settings.pixel.base_url,
        )
        started = []
        for copy in planned:
            ids = [r.id for r in copy.recipients]
            self._in_flight.update(ids)
            task = asyncio.get_running_loop().create_task(self._deliver(copy))
            self._tasks.add(task)
            task.add_done_callback(self._task_done)
            started.append(task)
        return started

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._backlog:
            self._wake.set()

    def _release(self, ids: list[int]) -> None:
        for rid in ids:
            self._in_flight.discard(rid)
        if self._finished_while_picking is not None:
            self._finished_while_picking.update(ids)

    # ------------------------------------------------------------ one copy

    async def _deliver(self, copy: Copy) -> None:
        ids = [r.id for r in copy.recipients]
        held = False
        try:
            async with self._slots:
                if self.unrecorded:  # picked before the store failed: leave it queued, send it after recovery
                    return
                self._counts["attempts"] += 1
                try:
                    answers = await self.transport.send(copy)
                except Exception as exc:  # a transport bug must cost one deferral, not the loop
                    log.error("delivery_transport_error", queue_id=copy.queue_id, error=str(exc), error_type=type(exc).__name__)
                    answers = tuple(Answer(None, None, f"internal error: {exc}", "") for _ in copy.recipients)
            now = self.clock()
            outcomes = [decide(a, r, copy.received_at, now, self.policy) for a, r in zip(answers, copy.recipients, strict=True)]
            try:
                await self._record(outcomes)
            except Exception as exc:
                # Answered but not recorded: keep it in flight (never picked, never sent again) and write it later.
                log.error("delivery_record_failed", queue_id=copy.queue_id, error=str(exc), recipients=len(ids))
                if not self.unrecorded:
                    log.warning("delivery_paused", reason="store cannot record outcomes")
                journaled = self.journal is not None and self.journal.append(outcomes)
                self.unrecorded.hold(copy, outcomes, exc, journaled=journaled)
                held = True
                self._start_record_retry()
                return
            self._count(copy, outcomes)
        finally:
            if not held:
                self._release(ids)

    def _start_record_retry(self) -> None:
        if self._record_retry is None or self._record_retry.done():
            self._record_retry = asyncio.get_running_loop().create_task(self._retry_unrecorded())

    async def _retry_unrecorded(self) -> None:
        attempt = 0
        while self.unrecorded:
            attempt += 1
            await asyncio.sleep(backoff(attempt, RECORD_RETRY_FIRST, RECORD_RETRY_MAX))
            await self._write_unrecorded()
        self._wake.set()

    async def _write_unrecorded(self) -> bool:
        """One write of every held outcome; on success they are released and counted, and delivery resumes."""
        held_now = self.unrecorded.snapshot()
        everything = [o for h in held_now for o in h.outcomes]
        if not everything:
            return True
        try:
            await self.store.write(lambda db: jobs.record_outcomes(db, everything, self.clock()))
        except Exception as exc:
            self.unrecorded.failures += 1
            self.unrecorded.last_error = str(exc)
            self._ratelog.emit(
                "record_retry", log.error, "delivery_record_retry_failed",
                outcomes=len(everything), waiting_seconds=round(self.unrecorded.oldest_seconds(), 1), error=str(exc),
            )
            return False
        waited = self.unrecorded.oldest_seconds()
        self.unrecorded.take(held_now)
        self._rejournal()
        for held in held_now:
            self._count(held.copy, list(held.outcomes))
            self._release([r.id for r in held.copy.recipients])
        if self.unrecorded:  # answered while that write ran: the retry records them
            self._start_record_retry()
            return False
        log.info("delivery_resumed", recorded=len(everything), waited_seconds=round(waited, 1))
        return True

    def _rejournal(self) -> None:
        """The journal holds exactly what is still held: cleared, then what waits is written to it again."""
        if self.journal is None:
            return
        self.journal.clear()
        for held in self.unrecorded.snapshot():
            self.journal.append(held.outcomes)

    async def _replay_journal(self) -> None:
        """Record what an earlier run could not, before anything is picked: those copies must not go out again."""
        if self.journal is None:
            return
        pending = list(self.journal.pending())
        if not pending:
            return
        self._journal_waiting = len(pending)
        log.warning("delivery_journal_replaying", outcomes=len(pending), path=str(self.journal.path))
        attempt = 0
        while not self._stopping:
            try:
                recorded = await self.store.write(lambda db: jobs.record_replayed(db, pending, self.clock()))
            except Exception as exc:
                attempt += 1
                self._ratelog.emit(
                    "journal_replay", log.error, "delivery_journal_replay_failed", outcomes=len(pending), error=str(exc),
                )
                try:  # stop() sets the wake, so a stop does not wait for the backoff
                    async with asyncio.timeout(backoff(attempt, RECORD_RETRY_FIRST, RECORD_RETRY_MAX)):
                        await self._wake.wait()
                except TimeoutError:
                    pass
                self._wake.clear()
                continue
            self.journal.clear()
            self._journal_waiting = 0
            log.info("delivery_journal_replayed", outcomes=len(pending), recorded=recorded)
            return

    async def _record(self, outcomes: list[Outcome]) -> None:
        """Store outcomes; those of copies finishing in the same loop turn share one write job.

        If the shared job fails, each copy's outcomes are retried in a job of
        their own, so one bad row costs only its own copy.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._outcome_batch.append((outcomes, future))
        if len(self._outcome_batch) == 1:
            loop.call_soon(self._flush_outcomes)
        await future

    def _flush_outcomes(self) -> None:
        batch, self._outcome_batch = self._outcome_batch, []
        task = asyncio.get_running_loop().create_task(self._write_batch(batch))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _write_batch(self, batch: list[tuple[list[Outcome], asyncio.Future[None]]]) -> None:
        everything = [o for outcomes, _ in batch for o in outcomes]
        try:
            await self.store.write(lambda db: jobs.record_outcomes(db, everything, self.clock()))
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0][1], exc)
                return
            for outcomes, future in batch:  # find the bad copy: one job each

                def alone(db: sqlite_utils.Database, mine: list[Outcome] = outcomes) -> None:
                    jobs.record_outcomes(db, mine, self.clock())

                try:
                    await self.store.write(alone)
                except Exception as own:
                    _settle(future, own)
                else:
                    _settle(future, None)
            return
        for _, future in batch:
            _settle(future, None)

    def _count(self, copy: Copy, outcomes: list[Outcome]) -> None:
        for o in outcomes:
            if o.state is DeliveryState.ACCEPTED:
                self._counts["accepted"] += 1
            elif o.state is DeliveryState.DEFERRED:
                self._counts["deferred"] += 1
            else:
                self._counts["failed"] += 1
            level = log.info if o.state is not DeliveryState.DEFERRED else log.warning
            level(
                "delivery_outcome",
                queue_id=copy.queue_id,
                recipient_id=o.recipient,
                state=str(o.state),
                reply_code=o.record.reply_code,
                status=o.record.status,
                reason=o.record.reason,
                attempts=o.attempts,
            )


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
