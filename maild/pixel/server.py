"""The pixel's HTTP face: GET /o/TOKEN.gif answers one transparent pixel at once, then records the open off the request.

Every request for an image gets the same answer whatever the token (valid,
forged, unknown, malformed): 200, the same 43 bytes, no cookie, no caching,
so the answer never tells whether a token is good. The open is recorded by a
task after the answer (`maild.pixel.opens`); at most MAX_PENDING such tasks
wait for the writer, more are counted (`dropped`) and logged, never queued
without bound. The client address is the peer's, or, when the peer is on
loopback (a reverse proxy on the same host, which `[pixel] base_url` points
at), the last address of its X-Forwarded-For.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from maild import clock as clockmod
from maild import logs
from maild.config import PixelSettings
from maild.pixel.classify import Rules
from maild.pixel.opens import record_open
from maild.tokens import KeySet

log = logs.get("pixel")

# A 1x1 transparent GIF89a: header, logical screen, 2-colour table, transparency extension, image, trailer.
GIF = bytes.fromhex(
    "474946383961" "01000100" "800000" "000000" "ffffff" "21f904" "01000000" "00" "2c" "00000000" "01000100" "00"
    "02024401" "00" "3b"
)
HEADERS = {
    "Content-Type": "image/gif",
    "Cache-Control": "no-store, no-cache, must-revalidate, private, max-age=0",
    "Pragma": "no-cache",
    "Expires": "0",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
MAX_PENDING = 1000
_NAME = re.compile(r"([a-z0-9]{1,80})\.gif")


@dataclass
class PixelStats:
    requests: int = 0
    recorded: int = 0  # new opened events
    repeated: int = 0  # fetches of an open already recorded
    refused: int = 0  # tokens that did not verify (answered the same image)
    dropped: int = 0  # opens not recorded because MAX_PENDING were waiting (logged)
    failed: int = 0  # opens the store could not take (logged)


def client_address(request: web.Request) -> str | None:
    peer = request.remote
    try:
        loopback = peer is not None and ipaddress.ip_address(peer).is_loopback
    except ValueError:
        loopback = False
    forwarded = request.headers.get("X-Forwarded-For", "")
    if loopback and forwarded:
        return forwarded.split(",")[-1].strip() or peer
    return peer


class PixelServer:
    """The aiohttp application and listener for `[pixel] listen`."""

    def __init__(
        self, settings: PixelSettings, store: Any, keys: KeySet, clock: Callable[[], datetime] = clockmod.now
    ) -> None:
        self.settings = settings
        self.store = store
        self.keys = keys
        self.clock = clock
        self.rules = Rules(settings.machine_user_agents, settings.machine_networks, settings.scanner_window)
        self.stats = PixelStats()
        self._pending: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self.port = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/o/{name}", self.image)  # GET also answers HEAD
        return app

    async def image(self, request: web.Request) -> web.Response:
        self.stats.requests += 1
        m = _NAME.fullmatch(request.match_info.get("name", ""))
        if m is not None and request.method == "GET":
            self._record_later(m.group(1), request.headers.get("User-Agent"), client_address(request))
        return web.Response(body=GIF, headers=HEADERS)

    def _record_later(self, token: str, user_agent: str | None, client: str | None) -> None:
        if len(self._pending) >= MAX_PENDING:
            self.stats.dropped += 1
            log.warning("pixel_open_dropped", pending=len(self._pending), note="the store is not keeping up")
            return
        task = asyncio.get_running_loop().create_task(self._record(token, user_agent, client))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _record(self, token: str, user_agent: str | None, client: str | None) -> None:
        now = self.clock()
        try:
            outcome = await self.store.write(
                lambda db: record_open(db, self.keys, token, user_agent=user_agent, client=client, now=now,
                                       rules=self.rules, keep_client=self.settings.keep_client)
            )
        except Exception as exc:  # noqa: BLE001 - a locked store: the fetch is answered, the open is logged as lost
            self.stats.failed += 1
            log.error("pixel_open_not_recorded", error=f"{type(exc).__name__}: {exc}"[:300])
            return
        if outcome.verdict is None:
            self.stats.refused += 1
            log.info("pixel_token_refused", problem=outcome.problem, token_prefix=token[:6])
        elif outcome.recorded:
            self.stats.recorded += 1
            log.info("pixel_open", kind=str(outcome.verdict.kind), label=outcome.verdict.label)
        else:
            self.stats.repeated += 1

    async def drain(self) -> None:
        """Wait for the opens being recorded (tests; stop)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def start(self) -> int:
        assert self.settings.listen is not None
        host, port = self.settings.listen
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server  # aiohttp keeps the bound socket there; port 0 asks for any free one
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else port
        log.info("pixel_listening", host=host, port=self.port)
        return self.port

    async def stop(self) -> None:
        await self.drain()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
