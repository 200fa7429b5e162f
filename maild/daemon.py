"""The composition root of `maild run`: builds every part from the settings, runs them, stops them in order.

Start order: store (migrated) → keys → delivery → receipts sources → HTTP →
intake listeners, then READY=1. Stop order is the reverse, so nothing accepted
is left without a writer: intake stops accepting (421 to new commands), running
sessions finish, delivery lets copies in flight finish up to the timeout, then
the store's writer drains and closes.
"""

from __future__ import annotations

import asyncio
import gc
import signal
from dataclasses import dataclass, field
from collections.abc import Callable
from functools import partial
from typing import Any

from aiohttp import web

from maild import clock, config, departments, liblogs, logs, metrics, retention, secretperms, tokens
from maild.config import Settings
from maild.core.states import UNFINISHED_DELIVERY, sql_list
from maild.core.stats import SourceStats
from maild.delivery.journal import OutcomeJournal, beside
from maild.delivery.scheduler import Scheduler
from maild.errors import MaildError
from maild.http.app import HttpServer, build_app, start_http
from maild.http.auth import load_secret, load_token
from maild.inbound.sources import build_inbound
from maild.intake.auth import Users, load_users
from maild.pixel.classify import Rules
from maild.pixel.server import PixelServer
from maild.intake.server import IntakeServer, build_intake
from maild.receipts.ingest import Ingestor, hints_from
from maild.receipts.sources import Source, build_sources
from maild.sdnotify import Notifier
from maild.store import Store, keep_indexed
from maild.web.app import PANEL
from maild.store import settings as store_settings
from maild.webhooks import WebhookDispatcher
from maild.writeback.dispatcher import WritebackDispatcher

log = logs.get("daemon")

STATUS_INTERVAL = 5.0


def loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """The event loop `daemon.event_loop` names: uvloop's, asyncio's own, or for auto uvloop's when it imports."""
    if choice != "asyncio":
        try:
            import uvloop
        except ImportError:
            if choice == "uvloop":
                raise  # config refused it already unless uvloop was removed since; say so rather than fall back
        else:
            return uvloop.new_event_loop
    return asyncio.new_event_loop


def loop_implementation(loop: asyncio.AbstractEventLoop) -> str:
    """Which event loop runs: "uvloop" or "asyncio" (what the start-up log and `daemon.event_loop` call them)."""
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"


def settle_heap() -> None:
    """Moves what start-up built (modules, the web app, templates, settings: ~50,000 objects) out of the collector's way.

    They live as long as the daemon, yet every full collection, which a busy panel or relay triggers every few
    hundred requests, walked them all: about 45 ms on this host, the panel's slowest 1% of pages. Python's gc
    documentation recommends freezing them once a long-running server has started.
    """
    gc.collect()
    gc.freeze()


def _count_queued(db: Any) -> int:
    return int(
        db.execute(f"SELECT count(*) FROM recipients WHERE delivery_state IN {sql_list(UNFINISHED_DELIVERY)}").fetchone()[0]
    )


@dataclass
class Daemon:
    settings: Settings
    log_format: str | None = None
    notifier: Notifier = field(default_factory=Notifier)
    store: Store | None = None
    keys: tokens.KeySet | None = None
    delivery: Scheduler | None = None
    journal: OutcomeJournal | None = None  # kept across the schedulers a reload builds
    intake: IntakeServer | None = None
    ingestor: Ingestor | None = None
    sources: list[Source] = field(default_factory=list)
    source_tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    http: HttpServer | None = None
    pixel: PixelServer | None = None
    webhooks: WebhookDispatcher | None = None
    writeback: WritebackDispatcher | None = None
    listeners: dict[str, bool] = field(default_factory=dict)
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    failed: str | None = None  # the part whose crash stopped the daemon

    async def start(self) -> None:
        s = self.settings
        log.info("event_loop_selected", setting=s.daemon.event_loop, implementation=loop_implementation(asyncio.get_running_loop()))
        await asyncio.to_thread(secretperms.refuse_exposed, s)
        # First start creates the key and API token files (0600, fsynced): file work stays off the loop.
        self.keys = await asyncio.to_thread(tokens.load_keys, s.tracking.key_file, create=True)
        if s.http.listen:
            await asyncio.to_thread(load_token, s.http.token_file)
            await asyncio.to_thread(load_secret, s.web.embed_key_file, "web.embed_key_file")  # the panel's embed key
        self.store = Store(s.store.path, busy_timeout=s.store.busy_timeout, receipts_default=s.tracking.receipts_default)
        await asyncio.to_thread(self.store.open)
        self.journal = await asyncio.to_thread(OutcomeJournal(beside(s.store.path)).open)
        self.delivery = Scheduler(s, self.store, self.keys, journal=self.journal)
        self._spawn(self.delivery.run(), "delivery")
        self.webhooks = WebhookDispatcher(s, self.store)
        self._spawn(self.webhooks.run(), "webhooks")
        self.writeback = WritebackDispatcher(s, self.store)
        self._spawn(self.writeback.run(), "writeback")
        self._spawn(retention.retention_loop(s, self.store, clock.now), "retention")
        self._spawn(keep_indexed(self.store, s.web.live_interval), "subject index")  # the panel's subject search
        self.ingestor = Ingestor(s, self.store, self.keys)
        if s.tracking.trust_untokened_reports:
            log.warning(
                "untokened_reports_trusted",
                setting="tracking.trust_untokened_reports",
                risk="reports without a token apply on Message-ID + address alone: anyone who saw the Message-ID can forge them",
            )
        self._start_sources(s)
        machine = s.pixel.count_machine_opens
        await self.store.write(lambda db: departments.sync_pixel_counting(db, machine))  # for the SQL views too
        if s.pixel.listen is not None:
            self.pixel = PixelServer(s.pixel, self.store, self.keys)
            port = await self.pixel.start()
            self.listeners[f"pixel {s.pixel.listen[0]}:{port}"] = True
        self.intake = build_intake(s, self.store, self.keys, on_spooled=self.delivery.wake)
        if s.http.listen:
            self.http = await start_http(s, self.store, app=self._http_app(s))
            self.listeners[f"http {s.http.listen}"] = True
        bound = await self.intake.start()
        self.listeners.update({f"smtp {h}:{p}": True for h, p in bound})
        settle_heap()
        log.info("maild_started", intake=[f"{h}:{p}" for h, p in bound], store=str(s.store.path))
        self.notifier.notify("READY=1", self._status_line())
        if self.notifier.enabled:
            self._spawn(self._status_updates(), "status")
        interval = self.notifier.watchdog_interval()
        if interval:
            self._spawn(self._watchdog(interval), "watchdog")

    def _open_store(self) -> Store:
        """The store start() opened; every part is built after that."""
        if self.store is None:
            raise RuntimeError("the store is not open yet")
        return self.store

    def _start_sources(self, s: Settings) -> None:
        assert self.ingestor is not None
        self.sources = [*build_sources(s, self.ingestor, self._open_store()), *build_inbound(s, self._open_store())]
        self.source_tasks = [self._spawn(src.run(), f"source {src.name}", keep=False) for src in self.sources]

    def _spawn(self, coro: Any, name: str, *, keep: bool = True) -> asyncio.Task[Any]:
        """Run a part; one that dies of an unexpected error stops the daemon (exit 1: systemd restarts it)."""
        task = asyncio.create_task(coro, name=name)
        if keep:
            self.tasks.append(task)
        task.add_done_callback(self._part_ended)
        return task

    def _part_ended(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        error = task.exception()
        log.error("part_failed", part=task.get_name(), error=f"{type(error).__name__}: {error}")
        self.failed = task.get_name()
        self.stopping.set()

    async def _stop_sources(self) -> None:
        for src in self.sources:
            await src.stop()
        if self.source_tasks:
            await asyncio.wait(self.source_tasks, timeout=10)
        for task in self.source_tasks:
            task.cancel()
        await asyncio.gather(*self.source_tasks, return_exceptions=True)
        self.sources, self.source_tasks = [], []

    def _http_app(self, s: Settings) -> web.Application:
        registry = metrics.build_registry(
            store=self.store,
            intake=lambda: self.intake.handler.stats if self.intake else None,
            delivery=lambda: self.delivery.stats() if self.delivery else None,
            ingest=lambda: self.ingestor.stats if self.ingestor else None,
            sources=self._source_stats,
            webhooks=lambda: self.webhooks.stats if self.webhooks else None,
        )
        app = build_app(
            s,
            self._open_store(),
            routes=[
                web.get("/metrics", metrics.metrics_handler(registry)),
                web.get("/healthz", metrics.healthz_handler(self._health_probe)),
            ],
        )
        app[PANEL].on_queue_change = self.delivery.wake if self.delivery else None  # a panel retry goes out now
        app[PANEL].ingestor = self.ingestor  # quarantine retries from the panel go through the daemon's own ingest
        return app

    def _source_stats(self) -> dict[str, SourceStats]:
        return {src.name: src.stats for src in self.sources}

    def _source_states(self) -> dict[str, bool]:
        return {src.name: bool(src.connected) for src in self.sources}

    def _health_probe(self) -> metrics.HealthProbe:
        return metrics.HealthProbe(
            store_open=self.store is not None,
            listeners=dict(self.listeners),
            sources=self._source_states(),
            stopping=self.stopping.is_set(),
            store_trouble=self.store.trouble if self.store is not None else None,
            unrecorded_outcomes=self.delivery.stats().unrecorded if self.delivery else 0,
        )

    def _status_line(self, queued: int | None = None) -> str:
        connected = sum(self._source_states().values())
        in_flight = self.delivery.stats().in_flight if self.delivery else 0
        queue = "" if queued is None else f"{queued} copies queued, "
        return (
            f"STATUS=accepting mail; {queue}{in_flight} in flight; "
            f"{connected}/{len(self.sources)} receipt sources connected"
        )

    async def _watchdog(self, interval: float) -> None:
        while True:
            self.notifier.notify("WATCHDOG=1")
            await asyncio.sleep(interval)

    async def _status_updates(self) -> None:
        """`systemctl status maild` shows the queue size and the receipt sources, refreshed every few seconds."""
        while True:
            try:
                queued = await self.store.read(_count_queued) if self.store else None
            except MaildError:
                queued = None
            self.notifier.notify(self._status_line(queued))
            await asyncio.sleep(STATUS_INTERVAL)

    async def stop(self, timeout: float | None = None) -> None:
        timeout = self.settings.service.stop_timeout if timeout is None else timeout
        self.notifier.notify("STOPPING=1")
        log.info("maild_stopping", timeout=timeout)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout  # one budget for draining sessions and copies in flight
        if self.intake is not None:
            await self.intake.stop(timeout)
        if self.delivery is not None:
            await self.delivery.stop(max(0.0, deadline - loop.time()))
        await self._stop_sources()
        if self.pixel is not None:
            await self.pixel.stop()
        if self.webhooks is not None:
            await self.webhooks.stop()
        if self.writeback is not None:
            await self.writeback.stop()
        if self.http is not None:
            await self.http.stop()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.store is not None:
            await asyncio.to_thread(self.store.close)
        if self.journal is not None:
            self.journal.close()
        log.info("maild_stopped")


    async def reload(self) -> bool:
        """SIGHUP: read the configuration again and apply what can change live; keep the old on any error.

        Live: log level and format, token keys, department default and the
        rest of [tracking], delivery and intake policy values, the users of intake.users_file
        and the session limits. Listeners, TLS files and switching AUTH on or off and
        the store path need a restart (logged).
        """
        self.notifier.notify("RELOADING=1")
        try:
            new = await asyncio.to_thread(config.load, self.settings.source)
            await asyncio.to_thread(secretperms.refuse_exposed, new)
            keys = await asyncio.to_thread(tokens.load_keys, new.tracking.key_file)
            users = await asyncio.to_thread(_users_for, new)
        except MaildError as exc:
            log.error("reload_refused", error=str(exc))
            self.notifier.notify("READY=1", "STATUS=reload refused: old configuration in force")
            return False
        old = self.settings
        for what, before, after in (
            ("intake.listen", old.intake.listen, new.intake.listen),
            ("intake.tls_listen", old.intake.tls_listen, new.intake.tls_listen),
            ("store.path", old.store.path, new.store.path),
            ("http.listen", old.http.listen, new.http.listen),
            ("intake.tls_cert_file", old.intake.tls_cert_file, new.intake.tls_cert_file),
            ("intake.tls_key_file", old.intake.tls_key_file, new.intake.tls_key_file),
            # AUTH is offered or not from the start: switching it on or off needs the listeners rebuilt
            ("intake.users_file", old.intake.users_file is None, new.intake.users_file is None),
        ):
            if before != after:
                log.warning("reload_needs_restart", setting=what)
        logs.configure(new.log.level, self.log_format or new.log.format)
        self.settings, self.keys = new, keys
        if self.intake is not None and users is not None and self.intake.handler.users is not None:
            self.intake.handler.users = users  # a revoked user is refused from now on
            log.info("users_reloaded", users_file=str(new.intake.users_file), users=len(users.hashes))
        await self._apply(new, keys, old)
        log.info("reloaded", config=str(new.source), keys=sorted(keys.keys))
        self.notifier.notify("READY=1", "STATUS=configuration reloaded")
        return True

    async def _apply(self, settings: Settings, keys: tokens.KeySet, old: Settings) -> None:
        if self.intake is not None:
            self.intake.handler.settings = settings
            self.intake.handler.keys = keys
            self.intake.apply_settings(settings)
        if self.delivery is not None:
            if settings.delivery != old.delivery:
                # upstream, credentials, TLS and retry policy are fixed per Scheduler: start a new one
                log.info("delivery_restarting")
                assert self.store is not None  # a running delivery has its store
                await self.delivery.stop(settings.service.stop_timeout)
                self.delivery = Scheduler(settings, self._open_store(), keys, journal=self.journal)
                self._spawn(self.delivery.run(), "delivery")
                if self.intake is not None:
                    self.intake.handler.on_spooled = self.delivery.wake
            else:
                self.delivery.settings = settings
                self.delivery.keys = keys
        if self.ingestor is not None:
            self.ingestor.settings = settings
            self.ingestor.keys = keys
            self.ingestor.hints = hints_from(settings.tracking)
        if self.store is not None:  # every reader (views, queries, intake, delivery) reads the stored default
            default = settings.tracking.receipts_default
            self.store.receipts_default = default
            await self.store.write(partial(store_settings.set_receipts_default, value=default))
            machine = settings.pixel.count_machine_opens
            await self.store.write(lambda db: departments.sync_pixel_counting(db, machine))
        if self.pixel is not None:  # rules and key changes apply live; the listener needs a restart
            self.pixel.settings, self.pixel.keys = settings.pixel, keys
            self.pixel.rules = Rules(settings.pixel.machine_user_agents, settings.pixel.machine_networks,
                                     settings.pixel.scanner_window)
        if settings.receipts != old.receipts or settings.inbound != old.inbound:
            log.info("receipt_sources_restarting")
            await self._stop_sources()
            self._start_sources(settings)
        if settings.webhooks != old.webhooks:  # the receipts default they read is the stored one
            if self.webhooks is not None:
                await self.webhooks.stop()
            self.webhooks = WebhookDispatcher(settings, self._open_store())
            self._spawn(self.webhooks.run(), "webhooks")
        if settings.writeback != old.writeback or settings.tracking.receipts_default != old.tracking.receipts_default:
            if self.writeback is not None:
                await self.writeback.stop()
            self.writeback = WritebackDispatcher(settings, self.store)
            self._spawn(self.writeback.run(), "writeback")


def _users_for(settings: Settings) -> Users | None:
    return load_users(settings.intake.users_file) if settings.intake.users_file else None


async def serve(settings: Settings, log_format: str | None = None) -> int:
    """Run until SIGTERM or SIGINT; SIGHUP reloads. Returns the exit status."""
    daemon = Daemon(settings, log_format=log_format)
    loop = asyncio.get_running_loop()
    liblogs.install(loop)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, daemon.stopping.set)
    reloads: set[asyncio.Task[bool]] = set()

    def on_hup() -> None:
        task = asyncio.create_task(daemon.reload())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, on_hup)
    try:
        await daemon.start()
    except Exception:
        await daemon.stop(timeout=5)
        raise
    await daemon.stopping.wait()
    await daemon.stop()
    return 1 if daemon.failed else 0
