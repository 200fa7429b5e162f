"""The pixel over real HTTP: the same image for any token, one open per recipient and kind, machine opens not read."""

from __future__ import annotations

from datetime import timedelta

import aiohttp
import pytest

from maild import config, queries
from maild.core.events import EventKind
from maild.pixel.server import GIF, PixelServer
from maild.store import transaction
from maild.store.events import NewEvent, record_event
from tests.receipts.conftest import KEYS, T0, send

THUNDERBIRD = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.3.0"
GOOGLE = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"


def pixel_settings(tmp_path, **extra: object) -> config.PixelSettings:
    table = {"listen": "127.0.0.1:0", "base_url": "https://track.example.com/maild", **extra}
    return config.parse({"pixel": table}, tmp_path / "maild.toml").pixel


@pytest.fixture
def delivered(db):
    sent = send(db, "alice@example.net")
    rid = sent.rid("alice@example.net")
    accepted = NewEvent(rid, sent.message, EventKind.ACCEPTED, T0, "smtp", natural_key="acc")
    transaction(db, lambda d: record_event(d, accepted, recorded_at=T0))
    return sent


@pytest.fixture
async def server(store, tmp_path):
    made: list[PixelServer] = []

    async def make(**extra: object) -> PixelServer:
        s = PixelServer(pixel_settings(tmp_path, **extra), store, KEYS, clock=lambda: T0 + timedelta(hours=1))
        await s.start()
        made.append(s)
        return s

    yield make
    for s in made:
        await s.stop()


async def fetch(port: int, path: str, ua: str | None = THUNDERBIRD) -> tuple[int, bytes, dict[str, str]]:
    headers = {"User-Agent": ua} if ua is not None else {}
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}{path}", headers=headers) as r:
        return r.status, await r.read(), dict(r.headers)


def opens(db) -> list[tuple[str, str]]:
    return [tuple(r) for r in db.execute("SELECT action, source FROM events WHERE kind = 'opened' ORDER BY id")]


async def test_the_image_is_served_and_one_open_is_recorded_once(db, delivered, server) -> None:
    s = await server()
    token = delivered.token("alice@example.net")
    answers = [await fetch(s.port, f"/o/{token}.gif") for _ in range(5)]
    await s.drain()
    status, body, headers = answers[0]
    assert (status, body, headers["Content-Type"]) == (200, GIF, "image/gif")
    assert "Set-Cookie" not in headers and "no-store" in headers["Cache-Control"]
    assert all(a[:2] == (200, GIF) for a in answers)
    assert opens(db) == [("human", "pixel")]
    assert (s.stats.recorded, s.stats.repeated) == (1, 4)
    info = queries.load_thread(db, "1234")
    assert info is not None
    alice = info.replies[0].recipients[0]
    assert (alice.state, alice.read_via) == ("read", "pixel")
    assert [e.text for e in alice.evidence] == ["opened 13:00 (a mail client)"]
    detail = db.execute("SELECT detail FROM events WHERE kind = 'opened'").fetchone()[0]
    assert "203.0" not in detail and "127.0.0.1" not in detail and "Thunderbird" not in detail  # no IP, no UA kept


async def test_a_bad_token_gets_the_very_same_answer_and_records_nothing(db, delivered, server) -> None:
    s = await server()
    token = delivered.token("alice@example.net")
    good = await fetch(s.port, f"/o/{token}.gif")
    forged = await fetch(s.port, f"/o/{token[:-4]}aaaa.gif")
    junk = await fetch(s.port, "/o/not-a-token!.gif")
    await s.drain()
    strip = {"Date"}
    assert [(a[0], a[1], {k: v for k, v in a[2].items() if k not in strip}) for a in (forged, junk)] == [
        (good[0], good[1], {k: v for k, v in good[2].items() if k not in strip})] * 2
    assert opens(db) == [("human", "pixel")]
    assert s.stats.refused == 1


async def test_a_proxy_open_is_shown_but_not_counted(db, delivered, server) -> None:
    s = await server()
    await fetch(s.port, f"/o/{delivered.token('alice@example.net')}.gif", ua=GOOGLE)
    await s.drain()
    assert opens(db) == [("machine", "pixel")]
    info = queries.load_thread(db, "1234")
    assert info is not None
    alice = info.replies[0].recipients[0]
    assert (alice.state, alice.read_via) == ("delivered", None)
    assert [e.text for e in alice.evidence] == ["opened 13:00 through Google's image proxy (not counted)"]
    assert db.execute("SELECT state FROM recipient_status").fetchone() == ("delivered",)


async def test_machine_opens_count_when_the_operator_says_so(db, delivered, server) -> None:
    from maild import departments

    transaction(db, lambda d: departments.sync_pixel_counting(d, True))
    s = await server(count_machine_opens=True)
    await fetch(s.port, f"/o/{delivered.token('alice@example.net')}.gif", ua=GOOGLE)
    await s.drain()
    info = queries.load_thread(db, "1234")
    assert info is not None and info.replies[0].recipients[0].state == "read"
    assert db.execute("SELECT state, read_via FROM recipient_status").fetchone() == ("read", "pixel")


async def test_keep_client_stores_the_address_and_user_agent(db, delivered, server) -> None:
    s = await server(keep_client=True)
    await fetch(s.port, f"/o/{delivered.token('alice@example.net')}.gif")
    await s.drain()
    detail = db.execute("SELECT detail FROM events WHERE kind = 'opened'").fetchone()[0]
    assert "127.0.0.1" in detail and "Thunderbird" in detail
