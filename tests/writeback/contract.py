"""Recorded HTTP contracts of helpdesks that cannot be installed here, served by aiohttp on 127.0.0.1.

Each route answers as the product does (paths, auth headers, status codes and
bodies from its source and API docs, cited per route) and records what it got.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]
    json: Any


@dataclass
class Helpdesk:
    token: str = "T0KEN"
    app_token: str = "APP"
    calls: list[Call] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)  # statuses to answer before behaving
    port: int = 0
    runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _record(self, request: web.Request) -> Call:
        body = await request.json() if request.can_read_body else None
        call = Call(request.method, request.path, dict(request.headers), body)
        self.calls.append(call)
        return call

    def _fail(self) -> web.Response | None:
        if self.fail_next:
            return web.json_response({"error": "test"}, status=self.fail_next.pop(0))
        return None

    # Zammad (API docs, token access): Authorization "Token token=...", 401 {"error": "Invalid token!"} otherwise;
    # POST /api/v1/ticket_articles answers 201 with the article; POST /api/v1/tags/add answers 200 true.
    async def zammad_article(self, request: web.Request) -> web.Response:
        call = await self._record(request)
        if call.headers.get("Authorization") != f"Token token={self.token}":
            return web.json_response({"error": "Invalid token!"}, status=401)
        if (failed := self._fail()) is not None:
            return failed
        return web.json_response({"id": len(self.calls), "ticket_id": call.json["ticket_id"], "type": "note",
                                  "internal": call.json["internal"]}, status=201)

    async def zammad_tag(self, request: web.Request) -> web.Response:
        call = await self._record(request)
        if call.headers.get("Authorization") != f"Token token={self.token}":
            return web.json_response({"error": "Invalid token!"}, status=401)
        return web.json_response(True)

    # FreeScout: GET /thread/read/{conversation}/{thread} (routes/web.php, OpenController) answers a 1x1 GIF,
    # unauthenticated; the API module's POST /api/conversations/{id}/threads wants X-FreeScout-API-Key, answers 201.
    async def freescout_read(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.Response(body=GIF, content_type="image/gif")

    async def freescout_thread(self, request: web.Request) -> web.Response:
        call = await self._record(request)
        if call.headers.get("X-FreeScout-API-Key") != self.token:
            return web.json_response({"message": "Unauthenticated"}, status=401)
        return web.Response(status=201, headers={"Resource-ID": "9001"})

    # GLPI legacy REST (apirest.md): initSession with App-Token + "Authorization: user_token ..." answers {"session_token"};
    # POST /apirest.php/Ticket/{id}/ITILFollowup with Session-Token answers 201 {"id", "message"}; killSession 200.
    async def glpi_init(self, request: web.Request) -> web.Response:
        call = await self._record(request)
        if call.headers.get("App-Token") != self.app_token or call.headers.get("Authorization") != f"user_token {self.token}":
            return web.json_response(["ERROR_GLPI_LOGIN_USER_TOKEN", "parameter user_token seems invalid"], status=401)
        return web.json_response({"session_token": "SESSION1"})

    async def glpi_followup(self, request: web.Request) -> web.Response:
        call = await self._record(request)
        if call.headers.get("Session-Token") != "SESSION1" or call.headers.get("App-Token") != self.app_token:
            return web.json_response(["ERROR_SESSION_TOKEN_INVALID", "session_token seems invalid"], status=401)
        return web.json_response({"id": 7, "message": ""}, status=201)

    async def glpi_kill(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.json_response(True)

    # RT REST2: PUT /REST/2.0/ticket/{id} answers 200 with a list of messages (as the real RT 5.0.3 answers here).
    async def rt_update(self, request: web.Request) -> web.Response:
        call = await self._record(request)
        if call.headers.get("Authorization") != f"token {self.token}":
            return web.json_response({"message": "Unauthorized"}, status=401)
        if (failed := self._fail()) is not None:
            return failed
        return web.json_response([f"{k} {v} added" for k, v in call.json["CustomFields"].items()])

    async def start(self) -> Helpdesk:
        app = web.Application()
        app.router.add_post("/api/v1/ticket_articles", self.zammad_article)
        app.router.add_post("/api/v1/tags/add", self.zammad_tag)
        app.router.add_get("/thread/read/{conversation}/{thread}", self.freescout_read)
        app.router.add_post("/api/conversations/{id}/threads", self.freescout_thread)
        app.router.add_get("/apirest.php/initSession", self.glpi_init)
        app.router.add_post("/apirest.php/{itemtype}/{id}/ITILFollowup", self.glpi_followup)
        app.router.add_get("/apirest.php/killSession", self.glpi_kill)
        app.router.add_put("/REST/2.0/ticket/{id}", self.rt_update)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
