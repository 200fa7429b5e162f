"""The HTTP API through a real aiohttp client against the real server on 127.0.0.1, port 0."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from maild import config, departments
from maild.http import build_app, start_http
from maild.http.openapi import DOCUMENT
from openapi_spec_validator import validate
from maild.http.app import ROUTES
from maild.store import Store
from tests.support.builders import Builder, at
from tests.support.status_cases import BOUNCE

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "status"
REPO = Path(__file__).resolve().parents[2]


def make_settings(tmp_path: Path, **sections) -> config.Settings:
    doc = {"store": {"path": "maild.db"}, "http": {"listen": "127.0.0.1:0", "token_file": "api.token"}, **sections}
    return config.parse(doc, tmp_path / "maild.toml")


def seed(path: Path) -> None:
    """Ticket 1234 as in the CLI golden files, and ticket 77 of Sales."""
    from tests.support.status_cases import FAIL

    b = Builder(path)
    r1 = b.reply("1234", [("a@example.net", "to"), ("b@example.net", "cc"), ("c@example.net", "bcc")],
                 message_id="<r1@helpdesk.example.com>")
    for a in ("a@example.net", "b@example.net", "c@example.net"):
        b.event(r1, a, "accepted", 1)
    b.event(r1, "c@example.net", "bounced", 10, BOUNCE)
    b.event(r1, "a@example.net", "displayed", 30)
    r2 = b.reply("1234", [("a@example.net", "to")], message_id="<r2@helpdesk.example.com>", minutes=60,
                 subject="Re: your invoice (2)")
    b.event(r2, "a@example.net", "failed", 61, FAIL)
    r3 = b.reply("77", [("z@example.org", "to")], department="Sales", message_id="<r3@helpdesk.example.com>")
    b.event(r3, "z@example.org", "accepted", 91)
    b.event(r3, "z@example.org", "displayed", 95)
    b.close()


@pytest.fixture
async def api(tmp_path):
    settings = make_settings(tmp_path)
    await asyncio.to_thread(seed, settings.store.path)
    store = Store(settings.store.path)
    await asyncio.to_thread(store.open)
    server = await start_http(settings, store)
    token = settings.http.token_file.read_text().strip()
    async with aiohttp.ClientSession(
        base_url=f"http://127.0.0.1:{server.port}", headers={"Authorization": f"Bearer {token}"}
    ) as client:
        yield client, store, settings
    await server.stop()
    await asyncio.to_thread(store.close)


async def test_ticket_returns_the_status_json(api) -> None:
    client, _, _ = api
    async with client.get("/v1/tickets/1234") as r:
        assert r.status == 200
        body = await r.json()
    assert body.pop("next_after") is None  # one page holds the whole thread
    assert body == json.loads((GOLDEN / "status_1234.json").read_text())


async def test_a_ticket_pages_its_replies_with_a_cursor(api) -> None:
    client, _, _ = api
    async with client.get("/v1/tickets/1234", params={"limit": "1"}) as r:
        first = await r.json()
    assert r.status == 200 and [x["message_id"] for x in first["replies"]] == ["<r1@helpdesk.example.com>"]
    assert isinstance(first["next_after"], int)
    async with client.get("/v1/tickets/1234", params={"limit": "1", "after": str(first["next_after"])}) as r:
        second = await r.json()
    assert [x["message_id"] for x in second["replies"]] == ["<r2@helpdesk.example.com>"]
    assert second["next_after"] is None
    whole = json.loads((GOLDEN / "status_1234.json").read_text())
    assert first["replies"] + second["replies"] == whole["replies"]
    assert {k: v for k, v in second.items() if k not in ("replies", "next_after")} == {
        k: v for k, v in whole.items() if k != "replies"}


async def test_a_ticket_page_refuses_a_bad_cursor_or_limit(api) -> None:
    client, _, _ = api
    for params in ({"limit": "0"}, {"limit": "501"}, {"limit": "x"}, {"after": "-1"}, {"after": "1e3"},
                   {"after": "9" * 20}):
        async with client.get("/v1/tickets/1234", params=params) as r:
            assert r.status == 400, params
            assert "error" in await r.json()
    async with client.get("/v1/tickets/1234", params={"after": str(2**62)}) as r:  # past the end: an empty page
        assert r.status == 200 and (await r.json())["replies"] == []
    async with client.get("/v1/tickets/999", params={"after": "1"}) as r:
        assert r.status == 404


async def test_unknown_ticket_is_404_json(api) -> None:
    client, _, _ = api
    async with client.get("/v1/tickets/999") as r:
        assert (r.status, await r.json()) == (404, {"error": "unknown ticket", "ticket": "999"})


async def test_message_by_message_id_with_or_without_brackets(api) -> None:
    client, _, _ = api
    for mid in ("<r1@helpdesk.example.com>", "r1@helpdesk.example.com"):
        async with client.get(f"/v1/messages/{quote(mid, safe='')}") as r:
            body = await r.json()
            assert (r.status, body["ticket"], body["state"], body["message_id"]) == (
                200, "1234", "read_by_to", "<r1@helpdesk.example.com>")


async def test_unknown_message_is_404(api) -> None:
    client, _, _ = api
    async with client.get("/v1/messages/nothing%40here") as r:
        assert r.status == 404
        assert (await r.json())["error"] == "unknown message"


async def test_events_page_through_with_a_stable_cursor(api) -> None:
    client, _, _ = api
    seen, after = [], 0
    while True:
        async with client.get("/v1/events", params={"after": after, "limit": 4}) as r:
            page = await r.json()
        seen += [e["id"] for e in page["events"]]
        after = page["next"]
        if not page["more"]:
            break
    assert seen == list(range(1, 14))


@pytest.mark.parametrize("query", ["after=-1", "after=x", "limit=0", "limit=1001", "limit=1.5"])
async def test_bad_paging_parameters_are_400_json(api, query) -> None:
    client, _, _ = api
    async with client.get(f"/v1/events?{query}") as r:
        assert r.status == 400
        assert "expected an integer" in (await r.json())["error"]


@pytest.mark.parametrize("header", [None, "Bearer wrong-token-wrong-token", "Basic abc", "Bearer"])
async def test_v1_without_the_right_token_is_401_json(api, header) -> None:
    client, _, _ = api
    headers = {"Authorization": header} if header else {}
    async with aiohttp.ClientSession(base_url=client._base_url) as anon:
        async with anon.get("/v1/tickets/1234", headers=headers) as r:
            assert r.status == 401
            assert r.headers["WWW-Authenticate"].startswith("Bearer")
            assert "token" in (await r.json())["error"]


async def test_healthz_and_openapi_need_no_token(api) -> None:
    client, _, _ = api
    async with aiohttp.ClientSession(base_url=client._base_url) as anon:
        async with anon.get("/healthz") as r:
            assert (r.status, await r.json()) == (200, {"status": "ok", "ready": True, "problems": []})
        async with anon.get("/openapi.json") as r:
            served = await r.json()
    validate(served)  # a valid OpenAPI 3.1 document (the live API is checked against it in test_live_api.py)
    assert served == DOCUMENT


async def test_unknown_route_is_404_json(api) -> None:
    client, _, _ = api
    async with client.get("/v1/nothing") as r:
        assert r.status == 404
        assert (await r.json())["error"] == "not found"


async def test_department_switch_hides_and_reveals_read_info(api) -> None:
    client, store, _ = api
    await store.write(lambda db: departments.set_receipts(db, "BILLING", False, at(200)))
    async with client.get("/v1/tickets/1234") as r:
        assert await r.json() == {**json.loads((GOLDEN / "status_1234_receipts_off.json").read_text()), "next_after": None}
    async with client.get("/v1/events", params={"limit": 1000}) as r:
        kinds = [(e["ticket"], e["kind"]) for e in (await r.json())["events"]]
    assert ("1234", "displayed") not in kinds and ("77", "displayed") in kinds
    await store.write(lambda db: departments.set_receipts(db, "billing", True, at(201)))
    async with client.get("/v1/tickets/1234") as r:
        assert await r.json() == {**json.loads((GOLDEN / "status_1234.json").read_text()), "next_after": None}


async def test_new_ticket_of_a_switched_off_department_is_hidden(api) -> None:
    client, store, _ = api
    await store.write(lambda db: departments.set_receipts(db, "Sales", False, at(200)))
    b = await asyncio.to_thread(Builder, store.path)
    r = await asyncio.to_thread(b.reply, "78", [("y@example.org", "to")], department="sales")
    await asyncio.to_thread(b.event, r, "y@example.org", "displayed", 300)
    await asyncio.to_thread(b.close)
    async with client.get("/v1/tickets/78") as resp:
        body = await resp.json()
    assert (body["receipts_enabled"], body["replies"][0]["recipients"][0]["read_at"]) == (False, None)


def test_token_file_is_created_0600_when_missing(tmp_path) -> None:
    settings = make_settings(tmp_path)
    build_app(settings, store=None)
    mode = stat.S_IMODE(settings.http.token_file.stat().st_mode)
    assert mode == 0o600
    assert len(settings.http.token_file.read_text().strip()) >= 32


def test_openapi_document_describes_exactly_the_routes() -> None:
    routes = {r.path for r in ROUTES}
    assert set(DOCUMENT["paths"]) == routes


def test_openapi_document_in_the_repo_is_current() -> None:
    assert json.loads((REPO / "docs" / "openapi.json").read_text()) == DOCUMENT


async def test_daemon_can_add_routes(tmp_path) -> None:
    from aiohttp import web

    settings = make_settings(tmp_path)
    store = Store(settings.store.path)
    await asyncio.to_thread(store.open)

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(text="maild_up 1\n")

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "degraded"})

    app = build_app(settings, store, routes=[web.get("/metrics", metrics), web.get("/healthz", health)])
    server = await start_http(settings, store, app=app)
    try:
        async with aiohttp.ClientSession() as c:
            async with c.get(f"http://127.0.0.1:{server.port}/metrics") as r:
                assert (r.status, await r.text()) == (200, "maild_up 1\n")
            async with c.get(f"http://127.0.0.1:{server.port}/healthz") as r:
                assert await r.json() == {"status": "degraded"}
    finally:
        await server.stop()
        await asyncio.to_thread(store.close)


async def test_healthz_of_the_api_alone_is_503_when_the_store_cannot_be_read(tmp_path) -> None:
    from maild.errors import StoreBusy

    class Locked:
        async def read(self, job):  # noqa: ANN001, ANN202
            raise StoreBusy("database is locked")

    settings = config.parse({"http": {"token_file": str(tmp_path / "api.token")}}, tmp_path / "maild.toml")
    async with TestClient(TestServer(build_app(settings, Locked()), host="127.0.0.1", port=0)) as client:
        async with client.get("/healthz") as r:
            assert r.status == 503
            assert (await r.json())["problems"] == ["store not open"]


EVENT_FIELDS = {"id", "ticket", "message_id", "recipient", "recipient_kind", "kind", "at", "recorded_at", "source",
                "via", "status", "action", "reason", "hard", "diagnostic", "remote_mta", "reply_code",
                "reporting_mta", "reporting_ua"}


async def test_events_say_what_the_world_said_and_how_it_arrived(api) -> None:
    client, _, _ = api
    async with client.get("/v1/events", params={"limit": 1000}) as r:
        events = (await r.json())["events"]
    assert all(set(e) == EVENT_FIELDS for e in events)
    assert set(DOCUMENT["components"]["schemas"]["Event"]["properties"]) == EVENT_FIELDS
    (bounce,) = [e for e in events if e["kind"] == "bounced"]
    assert (bounce["source"], bounce["via"], bounce["reporting_mta"], bounce["remote_mta"]) == (
        "dsn", "imap", "dsn.example.net", "mx.example.net")
    accepted = [e for e in events if e["kind"] == "accepted"]
    assert {(e["source"], e["via"]) for e in accepted} == {("smtp", None)}
    read = [e for e in events if e["kind"] == "displayed"]
    assert {(e["source"], e["via"]) for e in read} == {("mdn", "imap")}
