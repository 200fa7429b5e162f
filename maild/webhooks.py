"""Webhooks: POST every new event and every reply state change, signed, in order, from a persisted per-URL cursor.

Each configured URL has a row in `webhook_cursors` holding the last delivery
it acknowledged, as (event id, part): part 0 is the event itself, part 1 the
reply state change it caused, if any. Deliveries go out strictly in that order
(so in order per ticket); a failure is retried with doubling delays and
blocks only its own URL; the cursor moves only after a 2xx, so nothing is lost
when the receiver or maild is down (a delivery may repeat: receivers
deduplicate on X-Maild-Delivery). A new URL starts at the events recorded
after it was first seen. Read events of departments with receipts off are
never sent, and reply states are computed without them.

Signature: X-Maild-Signature = "v1=" + hex HMAC-SHA256(secret, TIMESTAMP + "." + BODY),
with TIMESTAMP the X-Maild-Timestamp header (Unix seconds).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from datetime import datetime, timedelta

import aiohttp
import sqlite_utils

from maild import clock as clock_module
from maild import logs, queries
from maild.config import Settings
from maild.core.backoff import backoff
from maild.core.stats import WebhookStats
from maild.core.jsonvalue import only, to_json
from maild.core.record import Event
from maild.core.states import ReplyState
from maild.errors import MaildError
from maild.http.auth import load_secret
from maild.status import RecipientStatus
from maild.store import StorePort, named_row

log = logs.get("webhooks")


# ------------------------------------------------------------------ pure parts


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    return "v1=" + hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(secret: bytes, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver does (shown for receivers; used by the tests)."""
    if not timestamp.isdigit():
        return False
    return hmac.compare_digest(sign(secret, int(timestamp), body), signature)


@dataclass(frozen=True, slots=True)
class WebhookPost:
    event_id: int
    part: int  # 0: the event, 1: the reply state change it caused
    body: bytes

    @property
    def key(self) -> str:
        return f"{self.event_id}.{self.part}"


# What a webhook shows of the event's recipient: its status right after the event.
RECIPIENT_FIELDS = ("address", "state", "read_at", "read_via", "evidence")


@dataclass(frozen=True, slots=True)
class EventMessage:
    """Body of part 0: one event, as `GET /v1/events` shows it, and its recipient's status right after it."""

    event: Event
    recipient: RecipientStatus | None = field(default=None, metadata=only(*RECIPIENT_FIELDS))
    type: str = "event"


@dataclass(frozen=True, slots=True)
class ReplyStateMessage:
    """Body of part 1: the reply state change one event caused."""

    ticket: str | None
    message_id: str | None
    previous_state: ReplyState
    state: ReplyState
    bounce_label: bool
    event_id: int
    at: str
    type: str = "reply_state"


def _body(message: EventMessage | ReplyStateMessage) -> bytes:
    return json.dumps(to_json(message), ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def pending_deliveries(
    db: sqlite_utils.Database, cursor: tuple[int, int], *, limit: int
) -> tuple[list[WebhookPost], tuple[int, int]]:
    """Deliveries after `cursor`, and the cursor to store when there are none (hidden events skipped)."""
    last_event, last_part = cursor
    after = last_event - 1 if last_part == 0 else last_event  # part 1 of last_event may still be due
    page = queries.list_events(db, after=after, limit=limit)
    visible = queries.Visibility(db)
    out: list[WebhookPost] = []
    for ev in page.events:
        assert ev.place is not None  # list_events loads every event's place
        before, after_state, now_status = queries.reply_around(db, ev.place.message, ev.id, visible)
        # the event's recipient as the status JSON shows it right after the event
        items = [WebhookPost(ev.id, 0, _body(EventMessage(ev, now_status.get(ev.place.recipient))))]
        if before != after_state:
            change = ReplyStateMessage(
                ticket=ev.place.ticket,
                message_id=ev.place.message_id,
                previous_state=before,
                state=after_state,
                bounce_label=after_state == ReplyState.FAILED,
                event_id=ev.id,
                at=ev.at,
            )
            items.append(WebhookPost(ev.id, 1, _body(change)))
        out += [d for d in items if (d.event_id, d.part) > cursor]
    idle_cursor = max(cursor, (page.next, 1))
    return out, idle_cursor


def load_cursor(db: sqlite_utils.Database, url: str, now: datetime) -> tuple[tuple[int, int], int, str | None]:
    """(cursor, attempts, next_attempt_at) of a URL; a URL seen for the first time starts after the latest event."""
    row = named_row(db, "SELECT last_event, last_part, attempts, next_attempt_at FROM webhook_cursors WHERE url = ?", (url,))
    if row is None:
        start = queries.latest_event_id(db)
        db.execute(
            "INSERT INTO webhook_cursors (url, last_event, last_part, attempts, updated_at) VALUES (?, ?, 1, 0, ?)",
            (url, start, clock_module.iso(now)),
        )
        return (start, 1), 0, None
    return (row["last_event"], row["last_part"]), row["attempts"], row["next_attempt_at"]


def save_cursor(db: sqlite_utils.Database, url: str, cursor: tuple[int, int], now: datetime) -> None:
    db.execute(
        """UPDATE webhook_cursors SET last_event = ?, last_part = ?, attempts = 0, next_attempt_at = NULL,
                  last_error = NULL, updated_at = ? WHERE url = ?""",
        (cursor[0], cursor[1], clock_module.iso(now), url),
    )


def save_failure(db: sqlite_utils.Database, url: str, attempts: int, retry_at: datetime, error: str, now: datetime) -> None:
    db.execute(
        "UPDATE webhook_cursors SET attempts = ?, next_attempt_at = ?, last_error = ?, updated_at = ? WHERE url = ?",
        (attempts, clock_module.iso(retry_at), error[:500], clock_module.iso(now), url),
    )


# ------------------------------------------------------------------ the dispatcher


class WebhookDispatcher:
    """One task per URL; `run()` until `stop()`. `wake()` after recording events to skip the poll delay."""

    def __init__(self, settings: Settings, store: StorePort, *, clock: Callable[[], datetime] = clock_module.now) -> None:
        self.settings = settings
        self.conf = settings.webhooks
        self.store = store
        self.clock = clock
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._session: aiohttp.ClientSession | None = None
        self.stats = WebhookStats()

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    async def run(self) -> None:
        if not self.conf.urls:
            return
        secret = (await asyncio.to_thread(load_secret, self.conf.secret_file, "webhooks.secret_file")).encode()
        timeout = aiohttp.ClientTimeout(total=self.conf.timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            self._session = session
            await asyncio.gather(*(self._serve(url, secret) for url in self.conf.urls))
        log.info("webhooks_stopped")

    async def _pause(self, seconds: float) -> None:
        """Wait `seconds`, or less when woken or stopped."""
        try:
            await asyncio.wait_for(self._wake.wait(), max(seconds, 0.0))
        except TimeoutError:
            pass
        self._wake.clear()

    async def _save(self, url: str, job: Callable[[sqlite_utils.Database], object]) -> None:
        """Persist a cursor or a failure; a busy or failing store is logged and skipped, never fatal.

        The cursor stays in memory and the next save writes it again; after a
        crash in between, the receiver sees a delivery twice (at-least-once).
        """
        try:
            await self.store.write(job)
        except MaildError as exc:
            log.error("webhook_store_failed", url=url, error=str(exc))

    async def _serve(self, url: str, secret: bytes) -> None:
        while True:
            try:
                cursor, attempts, retry_at = await self.store.write(lambda db: load_cursor(db, url, self.clock()))
                break
            except MaildError as exc:
                log.error("webhook_store_failed", url=url, error=str(exc))
                await self._pause(self.conf.poll_interval)
                if self._stop.is_set():
                    return
        if retry_at is not None:
            await self._sleep_until(clock_module.parse_iso(retry_at))
        while not self._stop.is_set():
            try:
                deliveries, idle = await self.store.read(
                    partial(pending_deliveries, cursor=cursor, limit=self.conf.batch_size)
                )
            except Exception as exc:  # a failing read is retried on the next poll
                log.error("webhook_read_failed", url=url, error=str(exc))
                await self._pause(self.conf.poll_interval)
                continue
            if not deliveries:
                if idle != cursor:  # only hidden events: move past them and look again at once
                    cursor = idle
                    await self._save(url, partial(save_cursor, url=url, cursor=idle, now=self.clock()))
                    continue
                await self._pause(self.conf.poll_interval)
                continue
            for d in deliveries:
                if self._stop.is_set():
                    return
                attempts = await self._deliver_until_done(url, secret, d, attempts)
                if attempts < 0:  # stopped while retrying
                    return
                attempts = 0
                cursor = (d.event_id, d.part)
                await self._save(url, partial(save_cursor, url=url, cursor=cursor, now=self.clock()))
                self.stats.delivered += 1

    async def _sleep_until(self, moment: datetime) -> None:
        delay = (moment - self.clock()).total_seconds()
        if delay > 0:
            try:
                await asyncio.wait_for(self._stop.wait(), delay)
            except TimeoutError:
                pass

    async def _deliver_until_done(self, url: str, secret: bytes, d: WebhookPost, attempts: int) -> int:
        """POST until a 2xx; returns the attempts it took, or -1 when stopped first."""
        while not self._stop.is_set():
            error = await self._post(url, secret, d)
            if error is None:
                if attempts:
                    log.info("webhook_recovered", url=url, delivery=d.key, attempts=attempts)
                return attempts
            attempts += 1
            self.stats.failures += 1
            delay = backoff(attempts, self.conf.first_retry, self.conf.max_retry)
            now = self.clock()
            log.warning("webhook_failed", url=url, delivery=d.key, attempts=attempts, retry_in=delay, error=error)
            retry_at = now + timedelta(seconds=delay)
            await self._save(
                url, partial(save_failure, url=url, attempts=attempts, retry_at=retry_at, error=error, now=now)
            )
            await self._sleep_until(self.clock() + timedelta(seconds=delay))
        return -1

    async def _post(self, url: str, secret: bytes, d: WebhookPost) -> str | None:
        """One attempt; None on a 2xx, else what went wrong."""
        assert self._session is not None
        timestamp = int(self.clock().timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "maild-webhooks/1",
            "X-Maild-Delivery": d.key,
            "X-Maild-Timestamp": str(timestamp),
            "X-Maild-Signature": sign(secret, timestamp, d.body),
        }
        try:
            async with self._session.post(url, data=d.body, headers=headers, allow_redirects=False) as r:
                await r.read()
                if 200 <= r.status < 300:
                    log.debug("webhook_delivered", url=url, delivery=d.key)
                    return None
                return f"HTTP {r.status}"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return f"{type(exc).__name__}: {exc}"
