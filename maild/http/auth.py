"""Bearer-token authentication of /v1/: the token file (created 0600 when missing) and the aiohttp middleware."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from maild import logs
from maild.core.secretfile import create_secret_file
from maild.errors import ConfigError

log = logs.get("http")

PUBLIC = frozenset({"/healthz", "/metrics", "/openapi.json", "/v1/openapi.json"})


def load_token(path: Path) -> str:
    """The API token; a missing file is created 0600 with a random token (never overwritten)."""
    return load_secret(path, "http.token_file")


def load_secret(path: Path, key_path: str) -> str:
    """A secret from a file; a missing file is created 0600 with a random value (never overwritten)."""
    if not path.exists() and create_secret_file(path, secrets.token_urlsafe(32) + "\n"):
        log.info("secret_file_created", path=str(path))
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(path, key_path, f"cannot read: {exc.strerror}") from None
    if len(token) < 16:
        raise ConfigError(path, key_path, "expected a secret of at least 16 characters")
    return token


def error(status: int, message: str, **extra: object) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


def bearer_middleware(token: str) -> Callable[..., Awaitable[web.StreamResponse]]:
    expected = f"Bearer {token}".encode()

    @web.middleware
    async def middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        # Deny by default: a route added later is private until listed here. /ui/ is the panel's (maild.web
        # checks its own sessions there, and refuses every page but the login without one).
        if request.path in PUBLIC or request.path == "/ui" or request.path.startswith("/ui/"):
            return await handler(request)
        # aiohttp keeps undecodable header bytes as surrogates: encode them back, never raise (a 500)
        given = request.headers.get("Authorization", "").encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(given, expected):
            log.info("http_unauthorized", path=request.path, peer=request.remote)
            response = error(401, "missing or wrong bearer token")
            response.headers["WWW-Authenticate"] = 'Bearer realm="maild"'
            return response
        return await handler(request)

    return middleware


@web.middleware
async def json_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every error is JSON with a message, never aiohttp's text pages or a traceback."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error(exc.status, exc.reason.lower())
    except Exception as exc:  # one bad request must not take the server down
        log.error("http_request_failed", path=request.path, error=str(exc))
        return error(500, "internal error")
