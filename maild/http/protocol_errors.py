"""aiohttp's own protocol-level error answers (a malformed request line, bad or oversized headers) in the API's JSON shape.

The `json_errors` middleware sees only requests that aiohttp could parse;
a request it cannot parse never reaches the application, and aiohttp's
`RequestHandler.handle_error` answers it with a text/plain body of its own,
which may quote the parser's error text. `JsonErrorRunner` serves the
application with a request handler whose `handle_error` answers the
documented error shape instead (`{"error": "..."}`, docs/openapi.json), with
a fixed message per status and nothing of the request or of Python in it.
"""

from __future__ import annotations

import json
from http import HTTPStatus

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_server import Server

_MESSAGES = {
    400: "bad request: malformed HTTP",
    413: "request entity too large",
    431: "request header fields too large",
    500: "internal error",
    504: "gateway timeout",
}


def error_body(status: int) -> str:
    """The JSON body for a protocol-level error of this status."""
    if status not in _MESSAGES:
        try:
            return json.dumps({"error": HTTPStatus(status).phrase.lower()})
        except ValueError:
            return json.dumps({"error": "error"})
    return json.dumps({"error": _MESSAGES[status]})


class _JsonErrorHandler(RequestHandler):
    __slots__ = ()

    def handle_error(
        self, request: BaseRequest, status: int = 500, exc: BaseException | None = None, message: str | None = None
    ) -> web.StreamResponse:
        # aiohttp logs the error and checks that nothing was sent yet; only the body it builds is replaced.
        answer = super().handle_error(request, status, exc, message)
        response = web.Response(status=answer.status, text=error_body(answer.status), content_type="application/json")
        response.force_close()
        return response


class _JsonErrorServer(Server):
    def __call__(self) -> RequestHandler:
        return _JsonErrorHandler(self, loop=self._loop, **self._kwargs)


class JsonErrorRunner(web.AppRunner):
    """An AppRunner whose connections answer aiohttp's own errors as JSON."""

    async def _make_server(self) -> Server:
        server = await super()._make_server()
        server.__class__ = _JsonErrorServer  # the same object, built by aiohttp; only the handler class differs
        return server
