"""The aiohttp application: routes that translate requests into maild.queries reads and their results into JSON."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from aiohttp import web

from maild import clock, departments, logs, queries
from maild.config import Settings, parse_hostport
from maild.errors import MaildError
from maild.http import openapi
from maild.http.auth import bearer_middleware, error, json_errors, load_token
from maild.http.protocol_errors import JsonErrorRunner
from maild.metrics.health import HealthProbe, healthz_handler
from maild.core.jsonvalue import to_json
from maild.store import StorePort, StoreReads
from maild.web import panel as web_panel

log = logs.get("http")

STORE = web.AppKey("store", StorePort)
SETTINGS = web.AppKey("settings", Settings)
MAX_PAGE = 1000
DEFAULT_PAGE = 100
MAX_REPLIES = 500  # replies of one ticket per answer (a page of /v1/tickets/{ticket}); the rest with ?after=


_TICKET = re.compile(r"[A-Za-z0-9._-]{1,64}")


def _default(request: web.Request) -> bool:
    return request.app[SETTINGS].tracking.receipts_default


def store_probe(store: StoreReads) -> Callable[[], Awaitable[HealthProbe]]:
    """/healthz of the API served alone (without the daemon's parts): ready when the store answers a read."""

    async def probe() -> HealthProbe:
        try:
            await store.read(lambda db: db.execute("SELECT 1").fetchone())
        except MaildError:
            return HealthProbe(store_open=False, listeners={"http": True})
        return HealthProbe(store_open=True, listeners={"http": True})

    return probe


async def healthz(request: web.Request) -> web.Response:
    return await healthz_handler(store_probe(request.app[STORE]))(request)


async def ticket(request: web.Request) -> web.Response:
    number = request.match_info["ticket"]
    if not _TICKET.fullmatch(number):  # ASCII only ("٣" is a digit to Python), and bounded
        return error(400, "ticket: expected 1 to 64 ASCII letters, digits, '.', '_' or '-'")
    try:
        after = _int_param(request, "after", 0, 0, 2**63 - 1)
        limit = _int_param(request, "limit", MAX_REPLIES, 1, MAX_REPLIES)
    except ValueError as exc:
        return error(400, str(exc))
    page = await request.app[STORE].read(lambda db: queries.load_thread_page(db, number, after=after, limit=limit))
    if page is None:
        return error(404, "unknown ticket", ticket=number)
    info = to_json(page.info)
    assert isinstance(info, dict)  # a dataclass's JSON is an object
    # next_after: more replies, ask again with ?after= this; null: that was the last
    return web.json_response({**info, "next_after": page.next_after})


async def message(request: web.Request) -> web.Response:
    message_id = request.match_info["message_id"]
    info = await request.app[STORE].read(lambda db: queries.load_message(db, message_id))
    if info is None:
        return error(404, "unknown message", message_id=message_id)
    return web.json_response(to_json(info))


def _int_param(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 19) or not lo <= int(raw) <= hi:
        raise ValueError(f"{name}: expected an integer from {lo} to {hi}")
    return int(raw)


async def events(request: web.Request) -> web.Response:
    try:
        after = _int_param(request, "after", 0, 0, 2**63 - 1)
        limit = _int_param(request, "limit", DEFAULT_PAGE, 1, MAX_PAGE)
    except ValueError as exc:
        return error(400, str(exc))
    t, rcpt = request.query.get("ticket"), request.query.get("recipient")
    page = await request.app[STORE].read(
        lambda db: queries.list_events(
            db, after=after, limit=limit, ticket=t, recipient=rcpt
        )
    )
    return web.json_response(to_json(page))


MAX_TICKETS = 200


async def tickets(request: web.Request) -> web.Response:
    """Many tickets' thread read info in one read, for a helpdesk's ticket list; unknown ones say so in place."""
    wanted = list(dict.fromkeys(t.strip() for t in request.query.getall("ticket", []) if t.strip()))
    if not wanted:
        return error(400, "ticket: give one or more, as ?ticket=A&ticket=B")
    if len(wanted) > MAX_TICKETS:
        return error(400, f"ticket: at most {MAX_TICKETS} per request")
    infos = await request.app[STORE].read(
        lambda db: [queries.load_thread(db, t) for t in wanted]
    )
    body = [to_json(i) if i is not None else {"ticket": t, "error": "unknown ticket"} for t, i in zip(wanted, infos, strict=True)]
    return web.json_response({"tickets": body})


async def department_list(request: web.Request) -> web.Response:
    default = _default(request)
    configured = set(request.app[SETTINGS].tracking.sender_departments.values())
    rows = await request.app[STORE].read(
        lambda db: queries.department_overview(db, configured=configured)
    )
    return web.json_response({"default": default, "departments": [to_json(d) for d in rows]})


async def department_switch(request: web.Request) -> web.Response:
    """Switch one department's read receipts (the API token is an administrator's); applies at once."""
    name = request.match_info["name"].strip()
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("receipts_enabled"), bool):
        return error(400, 'expected a JSON body {"receipts_enabled": true|false}')
    if not name:
        return error(400, "a department name is required")
    enabled = bool(body["receipts_enabled"])
    dept = await request.app[STORE].write(
        lambda db: departments.set_receipts(db, name, enabled, clock.now(), by="api token", via="api")
    )
    log.info("department_receipts_switched", department=dept.name, receipts_enabled=dept.receipts_enabled,
             by="api", peer=request.remote)
    return web.json_response({"name": dept.name, "receipts_enabled": dept.receipts_enabled, "explicit": True})


async def openapi_document(request: web.Request) -> web.Response:
    return web.json_response(openapi.DOCUMENT)


ROUTES = [
    web.get("/healthz", healthz),
    web.get("/openapi.json", openapi_document),
    web.get("/v1/openapi.json", openapi_document),
    web.get("/v1/tickets", tickets),
    web.get("/v1/tickets/{ticket}", ticket),
    web.get("/v1/departments", department_list),
    web.put("/v1/departments/{name}", department_switch),
    web.get("/v1/messages/{message_id}", message),
    web.get("/v1/events", events),
]


def build_app(settings: Settings, store: StorePort, *, routes: Iterable[web.RouteDef] = ()) -> web.Application:
    """The API application; the daemon adds its own routes (/metrics) through `routes` or app.router.

    A route in `routes` replaces the built-in one of the same method and path (the daemon's /healthz
    probes all its parts; the built-in one only the store, through the same maild.metrics.health decision).
    `store` is the daemon's store (a maild.store.StorePort).
    """
    extra = list(routes)
    taken = {(r.method, r.path) for r in extra}
    panel = web_panel.build_panel(settings, store)
    app = web.Application(
        middlewares=[json_errors, bearer_middleware(load_token(settings.http.token_file)), web_panel.middleware(panel)]
    )
    web_panel.install(app, panel)  # the panel under /ui/ (maild.web): its own sessions, not the bearer token
    app[STORE] = store
    app[SETTINGS] = settings
    app.add_routes([r for r in ROUTES if (r.method, r.path) not in taken])
    app.add_routes(extra)
    return app


@dataclass
class HttpServer:
    runner: web.AppRunner  # a JsonErrorRunner: aiohttp's own protocol errors answered as JSON too
    host: str
    port: int

    async def stop(self) -> None:
        await self.runner.cleanup()
        log.info("http_stopped")


async def start_http(
    settings: Settings, store: StorePort, *, app: web.Application | None = None, listen: str | None = None
) -> HttpServer:
    """Serve the API on http.listen (or `listen`, e.g. "127.0.0.1:0" in tests); returns once it listens."""
    host, port = parse_hostport(listen if listen is not None else settings.http.listen, settings.base_dir)
    if app is None:
        app = build_app(settings, store)
    runner = JsonErrorRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1] if runner.addresses else port
    log.info("http_listening", host=host, port=bound)
    return HttpServer(runner, host, bound)
