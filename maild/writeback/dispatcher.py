"""The write-back dispatcher: one task per `[[writeback]]` target turning outbox rows into HTTP calls, with backoff.

At most once: a row is marked `sending` before its first byte goes out.
A write that may or may not have reached the helpdesk (maild died mid-call,
or the connection broke after the request was sent) is retried only where
repeating it changes nothing (RT's field, Zammad's tag, FreeScout's viewed
indicator); a note or follow-up becomes `uncertain` instead, listed by
`maild writeback list` for an operator to `retry`. A helpdesk that refuses
the token (401/403) gets a `writeback_token_refused` error line and is
retried with backoff (the token file is read again each time); other 4xx
answers mark the row `refused`.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import sqlite_utils

from maild import clock as clock_module
from maild import logs
from maild.config import Settings, WritebackTarget
from maild.core.backoff import backoff
from maild.errors import MaildError
from maild.writeback import outbox
from maild.writeback.requests import Request, Unusable, auth_headers, plan

log = logs.get("writeback")


def idempotent(target: WritebackTarget) -> bool:
    mode = outbox.mode_of(target)
    return target.kind == "rt" or (target.kind == "zammad" and mode == "tag") or mode == "indicator"


@dataclass
class WritebackStats:
    """Counters read by /metrics, per target label."""

    written: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)

    def add(self, counter: dict[str, int], label: str) -> None:
        counter[label] = counter.get(label, 0) + 1


class Retry(Exception):
    """Try this row again later."""


class Refused(Exception):
    """The helpdesk said no for good."""


class Uncertain(Exception):
    """The write may have happened: repeating a non-idempotent one could write twice."""


def _secret(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text("utf-8").strip()
    except OSError as exc:
        raise Retry(f"cannot read {path}: {exc.strerror}") from None


def _again(db: sqlite_utils.Database, oid: int, attempts: int, retry_at: datetime, error: str, status: str) -> None:
    outbox.mark_retry(db, oid, attempts, retry_at, error)
    db.execute("UPDATE writeback_outbox SET status = ? WHERE id = ?", (status, oid))


def _done(db: sqlite_utils.Database, oid: int, now: datetime) -> None:
    db.execute("UPDATE writeback_outbox SET status = 'pending' WHERE id = ?", (oid,))
    outbox.mark_done(db, oid, now)


def recover(db: sqlite_utils.Database, target: WritebackTarget) -> None:
    """After a restart: rows caught mid-call are retried when harmless, else left for an operator."""
    status = "pending" if idempotent(target) else "uncertain"
    db.execute("UPDATE writeback_outbox SET status = ? WHERE target = ? AND status = 'sending'", (status, target.label))


class WritebackDispatcher:
    def __init__(self, settings: Settings, store: Any, *, clock: Callable[[], datetime] = clock_module.now) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.stats = WritebackStats()
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._session: aiohttp.ClientSession | None = None

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    async def run(self) -> None:
        targets = self.settings.writeback
        if not targets:
            return
        for t in targets:
            await self._write(functools.partial(recover, target=t))
        async with aiohttp.ClientSession() as session:
            self._session = session
            await asyncio.gather(*(self._serve(t) for t in targets))
        log.info("writeback_stopped")

    async def _write(self, job: Callable[[sqlite_utils.Database], Any]) -> Any:
        try:
            return await self.store.write(job)
        except MaildError as exc:
            log.error("writeback_store_failed", error=str(exc))
            return None

    async def _pause(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._wake.wait(), max(seconds, 0.0))
        except TimeoutError:
            pass
        self._wake.clear()

    async def _serve(self, target: WritebackTarget) -> None:
        while not self._stop.is_set():
            await self._write(lambda db: outbox.collect(db, target, self.clock()))
            items = await self._write(lambda db: outbox.due(db, target, self.clock())) or []
            for item in items:
                if self._stop.is_set():
                    return
                await self._one(target, item)
            if not items:
                await self._pause(target.poll_interval)

    async def _one(self, target: WritebackTarget, item: outbox.Item) -> None:
        label = target.label
        try:
            requests = plan(target, item)
        except Unusable as exc:
            problem = str(exc)
            log.warning("writeback_unusable", target=label, row=item.id, ticket=item.ticket, problem=problem)
            self.stats.add(self.stats.refused, label)
            await self._write(lambda db: outbox.mark_refused(db, item.id, item.attempts, problem, self.clock()))
            return
        await self._write(lambda db: db.execute("UPDATE writeback_outbox SET status = 'sending' WHERE id = ?", (item.id,)))
        attempts = item.attempts + 1
        error = ""
        try:
            await self._perform(target, requests)
        except Retry as exc:
            error = str(exc)
            delay = backoff(attempts, target.first_retry, target.max_retry)
            self.stats.add(self.stats.failures, label)
            log.warning("writeback_failed", target=label, row=item.id, attempts=attempts, retry_in=delay, error=error)
            retry_at = self.clock() + timedelta(seconds=delay)
            await self._write(lambda db: _again(db, item.id, attempts, retry_at, error, "pending"))
            return
        except Uncertain as exc:
            error = str(exc)
            status = "pending" if idempotent(target) else "uncertain"
            self.stats.add(self.stats.failures, label)
            log.warning("writeback_uncertain", target=label, row=item.id, status=status, error=error)
            retry_at = self.clock() + timedelta(seconds=backoff(attempts, target.first_retry, target.max_retry))
            await self._write(lambda db: _again(db, item.id, attempts, retry_at, error, status))
            return
        except Refused as exc:
            error = str(exc)
            self.stats.add(self.stats.refused, label)
            log.error("writeback_refused", target=label, row=item.id, ticket=item.ticket, error=error)
            await self._write(lambda db: outbox.mark_refused(db, item.id, attempts, error, self.clock()))
            return
        self.stats.add(self.stats.written, label)
        log.info("writeback_written", target=label, row=item.id, ticket=item.ticket, state=item.state)
        await self._write(lambda db: _done(db, item.id, self.clock()))

    async def _perform(self, target: WritebackTarget, requests: list[Request]) -> None:
        token = await asyncio.to_thread(_secret, target.token_file)
        app_token = await asyncio.to_thread(_secret, target.app_token_file)
        headers = auth_headers(target, token, app_token)
        session_token: str | None = None
        try:
            if any(r.session for r in requests):
                body = await self._call(target, Request("GET", "/apirest.php/initSession"), headers, sent_is_safe=True)
                session_token = str((body or {}).get("session_token") or "")
                if not session_token:
                    raise Retry("GLPI initSession gave no session_token")
            for r in requests:
                h = dict(headers)
                if r.session and session_token:
                    h = {"App-Token": app_token or "", "Session-Token": session_token}
                await self._call(target, r, h, sent_is_safe=idempotent(target))
        finally:
            if session_token:
                try:
                    await self._call(target, Request("GET", "/apirest.php/killSession"),
                                     {"App-Token": app_token or "", "Session-Token": session_token}, sent_is_safe=True)
                except (Retry, Refused, Uncertain):
                    pass

    async def _call(self, target: WritebackTarget, r: Request, headers: dict[str, str], *, sent_is_safe: bool) -> Any:
        assert self._session is not None
        url = target.url.rstrip("/") + r.path
        timeout = aiohttp.ClientTimeout(total=target.timeout)
        try:
            async with self._session.request(
                r.method, url, json=r.json, headers={"User-Agent": "maild-writeback/1", **headers},
                timeout=timeout, allow_redirects=False,
            ) as resp:
                text = await resp.text(errors="replace")
                status = resp.status
        except aiohttp.ClientConnectorError as exc:
            raise Retry(f"cannot connect: {exc}") from None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            # the request may have reached the helpdesk
            if sent_is_safe:
                raise Retry(f"{type(exc).__name__}: {exc}") from None
            raise Uncertain(f"{type(exc).__name__}: {exc}") from None
        if status in (401, 403):
            log.error("writeback_token_refused", target=target.label, status=status,
                      hint=f"check {target.token_file} (the helpdesk refused its token)")
            raise Retry(f"HTTP {status}: token refused")
        if status in (408, 425, 429) or status >= 500:
            raise Retry(f"HTTP {status}")
        if status >= 300:
            raise Refused(f"HTTP {status}: {text[:200]}")
        if not text.strip():
            return None
        try:
            return json.loads(text)
        except ValueError:
            return None
