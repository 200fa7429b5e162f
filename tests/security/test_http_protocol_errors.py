"""Every error the HTTP API answers is JSON of the documented error shape, aiohttp's protocol-level 400s included.

Reproduced: a request aiohttp cannot parse (a malformed request line, a header without a colon, an oversized
header, broken chunked encoding) never reached maild's JSON error middleware, and aiohttp answered it with
its own text/plain body quoting its parser's error text. Sent here as raw bytes over a real socket.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from jsonschema import validate

from tests.http.test_api import api  # noqa: F401  (fixture: the real server with a seeded store)

ROOT = Path(__file__).resolve().parents[2]
ERROR_SCHEMA = json.loads((ROOT / "docs" / "openapi.json").read_text())["components"]["schemas"]["Error"]

MALFORMED = {
    "request-line": b"GARBAGE\r\n\r\n",
    "bad-method": b"G\x01T /v1/events HTTP/1.1\r\nHost: x\r\n\r\n",
    "bad-version": b"GET /v1/events HTTP/9.x\r\nHost: x\r\n\r\n",
    "header-without-colon": b"GET /v1/events HTTP/1.1\r\nHost x\r\n\r\n",
    "oversized-header": b"GET /v1/events HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n",
    "oversized-request-line": b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "bad-chunk": b"POST /v1/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nxx\r\n0\r\n\r\n",
    "length-and-chunked": b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "bad-content-length": b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
}


async def _raw(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 20)
    writer.close()
    return data


@pytest.mark.parametrize("name", sorted(MALFORMED))
async def test_a_request_aiohttp_cannot_parse_gets_a_json_error(api, name):  # noqa: F811
    port = api[0]._base_url.port
    response = await _raw(port, MALFORMED[name])
    head, _, body = response.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    assert status_line.split(" ")[1].startswith("4"), response[:300]
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in header_lines)}
    assert headers["content-type"].startswith("application/json"), response[:300]
    document = json.loads(body)
    validate(document, ERROR_SCHEMA)
    assert set(document) == {"error"}
    assert "Traceback" not in document["error"] and "Error" not in document["error"]  # no Python text
