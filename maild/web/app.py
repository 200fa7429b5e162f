"""The panel's wiring into the HTTP application: its middleware (sessions, roles, CSRF, security headers) and routes."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from maild import logs
from maild.config import Settings
from maild.web import embed, proxy
from maild.web.live import LiveHub
from maild.web.render import render
from maild.web.sessions import LoginThrottle, Session, Sessions, csrf_ok
from maild.web.users import Role, load_users

log = logs.get("web")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
COOKIE = "maild_session"
LOGIN_COOKIE = "maild_login"  # double-submit token of the login form, before there is a session
OPEN_PATHS = frozenset({"/ui/login"})
OPEN_PREFIXES = ("/ui/static/", "/ui/embed/")
SESSION = web.RequestKey("web_session", Session)


@dataclass
class Panel:
    settings: Settings
    store: Any  # anything with async read(job) and write(job) (maild.store.Store)
    embed_key: str
    sessions: Sessions
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    live: LiveHub | None = None
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    on_queue_change: Callable[[], None] | None = None
    ingestor: Any = None  # the daemon's maild.receipts.ingest.Ingestor: quarantine retries need its keys and parser


PANEL = web.AppKey("web_panel", Panel)


def is_panel_path(path: str) -> bool:
    return path == "/ui" or path.startswith("/ui/")


def security_headers(response: web.StreamResponse, *, frame_ancestors: tuple[str, ...] = ()) -> None:
    """A strict policy: only our own scripts, styles and fetches; no inline script; no framing unless configured."""
    ancestors = " ".join(frame_ancestors) if frame_ancestors else "'none'"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        f"form-action 'self'; base-uri 'none'; frame-ancestors {ancestors}"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    if not frame_ancestors:
        response.headers["X-Frame-Options"] = "DENY"


def html(body: str, status: int = 200) -> web.Response:
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8")


def error_page(request: web.Request, status: int, message: str) -> web.Response:
    session = request.get(SESSION)
    return html(render("error.html", session=session, status=status, message=message, active=""), status=status)


def current(request: web.Request) -> Session:
    session = request.get(SESSION)
    assert isinstance(session, Session)
    return session


def _from_proxy(panel: Panel, request: web.Request) -> bool:
    return proxy.from_proxy(request.remote, panel.settings.web.trusted_proxy_networks)


def is_https(request: web.Request) -> bool:
    """Served over TLS: by maild itself, or by a trusted proxy that says so (X-Forwarded-Proto: https)."""
    return request.secure or proxy.forwarded_https(request.headers, _from_proxy(request.app[PANEL], request))


def set_session_cookie(request: web.Request, response: web.StreamResponse, value: str) -> None:
    # A browser-session cookie: the server ends the session after web.session_idle without a request (a max-age
    # here would end an active session that long after its login).
    response.set_cookie(COOKIE, value, path="/ui", httponly=True, samesite="Strict", secure=is_https(request))


def panel_middleware(panel: Panel) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not is_panel_path(request.path):
            return await handler(request)
        ancestors = panel.settings.web.embed_frame_ancestors if request.path.startswith("/ui/embed/") else ()
        try:
            response = await _guarded(panel, request, handler)
        except web.HTTPException as exc:
            if exc.status < 400:
                security_headers(exc)
                raise
            response = error_page(request, exc.status, exc.reason)
        except Exception as exc:  # noqa: BLE001 - one bad request never takes the panel down nor shows a traceback
            log.error("web_request_failed", path=request.path, error=f"{type(exc).__name__}: {exc}")
            response = error_page(request, 500, "Internal error: the details are in maild's log.")
        security_headers(response, frame_ancestors=ancestors)
        return response

    return middleware


async def _guarded(panel: Panel, request: web.Request, handler: Handler) -> web.StreamResponse:
    open_path = request.path in OPEN_PATHS or request.path.startswith(OPEN_PREFIXES)
    session = panel.sessions.get(request.cookies.get(COOKIE), panel.clock())
    signed_on = None
    sso = proxy.proxy_user(request.headers, panel.settings.web.trusted_proxy_header, _from_proxy(panel, request))
    if sso is not None and not open_path and (session is None or session.user != sso):
        signed_on = await _proxy_session(panel, request, sso, session)
        if signed_on is None:
            return error_page(request, 403, "The user your single sign-on names is not a panel user: an administrator "
                              "adds it with `maild users add`.")
        session = signed_on
    if session is not None:
        request[SESSION] = session
    if open_path:
        return await handler(request)
    if signed_on is not None:  # the new session's cookie goes on whatever the page answers, redirects included
        try:
            response = await _checked(panel, request, handler, signed_on)
        except web.HTTPException as exc:
            set_session_cookie(request, exc, signed_on.id)
            raise
        if not response.prepared:
            set_session_cookie(request, response, signed_on.id)
        return response
    return await _checked(panel, request, handler, session)


async def _proxy_session(panel: Panel, request: web.Request, name: str, old: Session | None) -> Session | None:
    """A session for the user a trusted proxy names, with the role the users file gives it; None: no such user."""
    users = await asyncio.to_thread(load_users, panel.settings.web.users_file)
    user = users.get(name)
    if user is None:
        log.warning("web_sso_refused", peer=request.remote)  # never the name: a proxy misconfiguration may leak one
        return None
    if old is not None:  # the proxy now speaks for someone else: the old user's session ends
        panel.sessions.end(old.id)
    log.info("web_login", user=user.name, role=str(user.role), peer=request.remote, via="proxy")
    return panel.sessions.create(user.name, user.role, panel.clock())


async def _checked(
    panel: Panel, request: web.Request, handler: Handler, session: Session | None
) -> web.StreamResponse:
    if session is None:
        if request.method in ("GET", "HEAD"):
            target = request.path_qs if request.path.startswith("/ui/") else "/ui/"
            raise web.HTTPSeeOther(f"/ui/login?next={_quote(target)}")
        return error_page(request, 403, "Your session has ended: log in again.")
    if request.method not in ("GET", "HEAD"):
        form = await request.post()
        given = form.get("csrf")
        if not isinstance(given, str) or not csrf_ok(session, given):
            log.warning("web_csrf_refused", path=request.path, user=session.user, peer=request.remote)
            return error_page(request, 403, "This form has expired or did not come from this panel: reload the page.")
    return await handler(request)


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="/")


def admin_only(handler: Handler) -> Handler:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        if current(request).role != Role.ADMIN:
            return error_page(request, 403, "This page is for administrators.")
        return await handler(request)

    return wrapped


def new_login_token() -> str:
    return secrets.token_urlsafe(24)


def embed_check(panel: Panel, ticket: str, request: web.Request) -> embed.EmbedCheck:
    return embed.check(panel.embed_key, ticket, request.query.get("exp"), request.query.get("sig"), panel.wall())
