"""Many tickets in one call and the department switch through the API, against the real server."""

from __future__ import annotations

import json
from pathlib import Path

from tests.http.test_api import api  # noqa: F401 - the real server on port 0, seeded like the CLI golden files

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "status"


async def test_many_tickets_in_one_call_in_the_order_asked(api) -> None:  # noqa: F811
    client, _, _ = api
    async with client.get("/v1/tickets", params=[("ticket", "77"), ("ticket", "999"), ("ticket", "1234")]) as r:
        assert r.status == 200
        body = await r.json()
    got = body["tickets"]
    assert [t["ticket"] for t in got] == ["77", "999", "1234"]
    assert got[1] == {"ticket": "999", "error": "unknown ticket"}
    assert got[2] == json.loads((GOLDEN / "status_1234.json").read_text())
    assert got[0]["replies"][0]["state"] == "read"


async def test_ticket_list_limits(api) -> None:  # noqa: F811
    client, _, _ = api
    async with client.get("/v1/tickets") as r:
        assert r.status == 400 and "ticket" in (await r.json())["error"]
    async with client.get("/v1/tickets", params=[("ticket", str(i)) for i in range(201)]) as r:
        assert r.status == 400 and "200" in (await r.json())["error"]
    async with client.get("/v1/tickets", params=[("ticket", "1")] * 300) as r:  # the same one repeated is one
        assert r.status == 200 and len((await r.json())["tickets"]) == 1


async def test_departments_listed_and_switched_through_the_api(api) -> None:  # noqa: F811
    client, _, _ = api
    async with client.get("/v1/departments") as r:
        body = await r.json()
    assert body["default"] is True
    assert {d["name"]: (d["receipts_enabled"], d["explicit"]) for d in body["departments"]} == {
        "Billing": (True, False), "Sales": (True, False)}
    async with client.put("/v1/departments/sales", json={"receipts_enabled": False}) as r:
        assert r.status == 200
        assert await r.json() == {"name": "sales", "receipts_enabled": False, "explicit": True}
    async with client.get("/v1/tickets/77") as r:
        t = await r.json()
    assert t["receipts_enabled"] is False and t["replies"][0]["state"] == "delivered"
    async with client.get("/v1/departments") as r:
        rows = {d["name"].casefold(): d for d in (await r.json())["departments"]}
    assert rows["sales"]["receipts_enabled"] is False and rows["sales"]["replies"] == 1
    # the fields docs/openapi.json names, and the switch under its department without the name again
    assert list(rows["sales"]) == ["name", "receipts_enabled", "explicit", "replies", "last_switch"]
    assert rows["sales"]["last_switch"]["receipts_enabled"] is False and rows["sales"]["last_switch"]["via"] == "api"
    assert sorted(rows["sales"]["last_switch"]) == ["at", "by", "receipts_enabled", "via"]
    assert rows["billing"]["last_switch"] is None


async def test_a_bad_switch_body_is_400_and_changes_nothing(api) -> None:  # noqa: F811
    client, _, _ = api
    for body in ("not json", json.dumps({"receipts_enabled": "no"}), json.dumps([True])):
        async with client.put("/v1/departments/Sales", data=body, headers={"Content-Type": "application/json"}) as r:
            assert r.status == 400
    async with client.get("/v1/tickets/77") as r:
        assert (await r.json())["receipts_enabled"] is True


async def test_the_switch_needs_the_token(api) -> None:  # noqa: F811
    import aiohttp

    client, _, _ = api
    async with aiohttp.ClientSession(base_url=client._base_url) as anon:
        async with anon.put("/v1/departments/Sales", json={"receipts_enabled": False}) as r:
            assert r.status == 401
    async with client.get("/v1/tickets/77") as r:
        assert (await r.json())["receipts_enabled"] is True
