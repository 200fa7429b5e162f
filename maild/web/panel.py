"""Building the panel for an HTTP application: its key and sessions, its routes, and the live task's life."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiohttp import web

from maild.config import Settings
from maild.http.auth import load_secret
from maild.web.app import PANEL, Panel, panel_middleware
from maild.web.live import LiveHub
from maild.web.routes import ROUTES
from maild.web.sessions import Sessions

_LIVE_TASK = web.AppKey("web_live_task", asyncio.Task)


def build_panel(settings: Settings, store: Any) -> Panel:
    """The panel of one application; reads (and on first start creates, 0600) the embed key file."""
    key = load_secret(settings.web.embed_key_file, "web.embed_key_file")
    panel = Panel(settings, store, key, Sessions(settings.web.session_idle))
    panel.live = LiveHub(lambda job: store.read(job), settings.web.live_interval)  # store may be None in tests
    return panel


def middleware(panel: Panel) -> Any:
    return panel_middleware(panel)


def install(app: web.Application, panel: Panel) -> None:
    app[PANEL] = panel
    app.add_routes(ROUTES)

    async def start_live(app: web.Application) -> None:
        if panel.live is not None:
            app[_LIVE_TASK] = asyncio.create_task(panel.live.run(), name="web live")

    async def stop_live(app: web.Application) -> None:  # on shutdown: open event streams end before the wait
        if panel.live is not None:
            await panel.live.close()
        task = app.get(_LIVE_TASK)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    app.on_startup.append(start_live)
    app.on_shutdown.append(stop_live)
