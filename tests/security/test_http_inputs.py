"""HTTP Low items: a non-UTF-8 Authorization header, non-ASCII digits and unbounded ticket ids.

Reproduced: a Latin-1 byte in `Authorization` answered 500; `?after=٣` (an
Arabic-Indic digit) was taken as 3; any length of ticket id went to the store.
"""

from __future__ import annotations

import asyncio
import pytest

from tests.http.test_api import api  # noqa: F401  (fixture: the real server with a seeded store)


async def _raw(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    data = await asyncio.wait_for(reader.read(), 20)
    writer.close()
    return data


async def test_a_non_utf8_authorization_header_gets_401_not_500(api):  # noqa: F811
    client = api[0]
    port = client._base_url.port  # the fixture's real server
    request = b"GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xe9\xe9\r\nConnection: close\r\n\r\n"
    response = await _raw(port, request)
    assert response.startswith(b"HTTP/1.1 401"), response[:200]
    assert b'"error"' in response


@pytest.mark.parametrize("query", ["after=\u0663", "limit=\u0661\u0660", "after=" + "9" * 40])
async def test_numbers_must_be_ascii_and_bounded(api, query):  # noqa: F811
    async with api[0].get(f"/v1/events?{query}") as response:
        assert response.status == 400
        body = await response.json()
        assert "expected an integer" in body["error"]


@pytest.mark.parametrize("ticket", ["\u0661\u0662", "1" * 65, "a b"])
async def test_ticket_ids_are_ascii_and_bounded(api, ticket):  # noqa: F811
    async with api[0].get(f"/v1/tickets/{ticket}") as response:
        assert response.status == 400
        assert "ticket: expected" in (await response.json())["error"]


def test_metrics_and_healthz_name_a_maildir_source_without_its_path():
    from maild.metrics.health import HealthProbe, health
    from maild.metrics.snapshot import source_label

    assert source_label("maildir:/var/lib/maild/receipts") == "maildir:receipts"
    assert source_label("imaps://user:secret@imap.example.net:993/INBOX") == "imaps://imap.example.net:993/INBOX"
    probe = HealthProbe(store_open=True, listeners={"smtp x": True}, sources={"maildir:/srv/secret/place/in": False})
    assert health(probe).problems == ("source not connected: maildir:in",)
