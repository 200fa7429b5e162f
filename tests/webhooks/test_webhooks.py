"""Webhooks to a local receiver: down then up (nothing lost, in order), signatures, restarts, the department switch."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from aiohttp import web

from maild import config, departments
from maild.store import Store
from maild.webhooks import WebhookDispatcher, backoff, sign, verify
from tests.support.builders import Builder, at
from tests.support.readme import readme_verifier
from tests.support.status_cases import BOUNCE


class Receiver:
    """A local HTTP receiver that can be down (port closed), failing (503) or up."""

    def __init__(self) -> None:
        self.got: list[tuple[dict[str, str], bytes]] = []
        self.status = 200
        self.port = 0
        self.runner: web.AppRunner | None = None

    gate: asyncio.Event | None = None  # when set up, requests wait until it opens

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.seen = getattr(self, "seen", 0) + 1
        if self.gate is not None:
            await self.gate.wait()
        if self.status == 200:
            self.got.append((dict(request.headers), body))
        return web.Response(status=self.status)

    async def up(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", self.port)
        await site.start()
        self.port = self.runner.addresses[0][1]

    async def down(self) -> None:
        assert self.runner is not None
        await self.runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def bodies(self) -> list[dict]:
        return [json.loads(b) for _, b in self.got]


async def until(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        await asyncio.sleep(0.02)


def settings_for(tmp_path: Path, url: str) -> config.Settings:
    return config.parse(
        {
            "store": {"path": "maild.db"},
            "webhooks": {"urls": [url], "secret_file": "hook.secret", "first_retry": "0.05s", "max_retry": "0.2s",
                         # a request timeout no test waits out: one that fired on a loaded machine would send a
                         # delivery twice (the receiver kept the first) and fail the exact lists below
                         "poll_interval": "0.05s", "timeout": "30s"},
        },
        tmp_path / "maild.toml",
    )


@pytest.fixture
async def env(tmp_path):
    receiver = Receiver()
    await receiver.up()
    settings = settings_for(tmp_path, receiver.url)
    store = Store(settings.store.path)
    await asyncio.to_thread(store.open)
    builder = await asyncio.to_thread(Builder, settings.store.path)
    yield receiver, settings, store, builder
    await asyncio.to_thread(builder.close)
    await asyncio.to_thread(store.close)
    if receiver.runner is not None:
        await receiver.runner.cleanup()


async def start(settings, store) -> tuple[WebhookDispatcher, asyncio.Task]:
    d = WebhookDispatcher(settings, store)
    task = asyncio.create_task(d.run())
    # The cursor row exists once the dispatcher has looked at its URL.
    await until(lambda: bool(store_rows(settings)))
    return d, task


def store_rows(settings) -> list:
    import sqlite3

    with sqlite3.connect(settings.store.path) as c:
        return c.execute("SELECT url, last_event, last_part FROM webhook_cursors").fetchall()


async def traffic(b: Builder) -> None:
    """Ticket 5: one reply to a (To) and b (Cc); a reads it, b bounces."""
    def work():
        r = b.reply("5", [("a@example.net", "to"), ("b@example.net", "cc")])
        b.event(r, "a@example.net", "accepted", 1)
        b.event(r, "b@example.net", "accepted", 1)
        b.event(r, "a@example.net", "displayed", 5)
        b.event(r, "b@example.net", "bounced", 6, BOUNCE)
    await asyncio.to_thread(work)


EXPECTED = [  # (type, event kind or new reply state)
    ("event", "queued"), ("event", "queued"),
    ("event", "accepted"), ("reply_state", "delivered"),
    ("event", "accepted"),
    ("event", "displayed"), ("reply_state", "read_by_to"),
    ("event", "bounced"),
]


def summary(receiver: Receiver) -> list[tuple[str, str]]:
    return [(b["type"], b["event"]["kind"] if b["type"] == "event" else b["state"]) for b in receiver.bodies()]


async def test_every_event_and_state_change_arrives_in_order_and_signed(env) -> None:
    receiver, settings, store, b = env
    d, task = await start(settings, store)
    await traffic(b)
    await until(lambda: len(receiver.got) == len(EXPECTED))
    await d.stop()
    await task
    assert summary(receiver) == EXPECTED
    (bounce,) = [b["event"] for b in receiver.bodies() if b["type"] == "event" and b["event"]["kind"] == "bounced"]
    assert (bounce["source"], bounce["via"], bounce["reporting_mta"], bounce["status"]) == (
        "dsn", "imap", "dsn.example.net", "5.1.1")
    assert "message" not in bounce  # the internal row id stays internal
    secret = settings.webhooks.secret_file.read_text().strip().encode()
    verified = readme_verifier()
    for headers, body in receiver.got:
        # The README's receiver code, not maild's verify(): a signature computed another way must fail here.
        assert verified(secret, headers, body)
        assert not verified(b"another secret of some length", headers, body)
    assert [h["X-Maild-Delivery"] for h, _ in receiver.got] == sorted(
        (h["X-Maild-Delivery"] for h, _ in receiver.got), key=lambda k: tuple(map(int, k.split("."))))


async def test_receiver_down_then_up_loses_nothing(env) -> None:
    receiver, settings, store, b = env
    d, task = await start(settings, store)
    await receiver.down()
    await traffic(b)
    await until(lambda: store_failure_attempts(settings) >= 2)
    await receiver.up()  # same port
    await until(lambda: len(receiver.got) == len(EXPECTED))
    await d.stop()
    await task
    assert summary(receiver) == EXPECTED


async def test_failing_receiver_is_retried_until_it_accepts(env) -> None:
    receiver, settings, store, b = env
    receiver.status = 503
    d, task = await start(settings, store)
    await traffic(b)
    await until(lambda: store_failure_attempts(settings) >= 2)
    receiver.status = 200
    await until(lambda: len(receiver.got) == len(EXPECTED))
    await d.stop()
    await task
    assert summary(receiver) == EXPECTED


async def test_nothing_lost_across_a_restart_of_maild(env) -> None:
    receiver, settings, store, b = env
    d, task = await start(settings, store)
    await receiver.down()
    await traffic(b)
    await until(lambda: store_failure_attempts(settings) >= 1)
    await d.stop()
    await task
    await receiver.up()
    d2, task2 = await start(settings, store)
    await until(lambda: len(receiver.got) == len(EXPECTED))
    await d2.stop()
    await task2
    assert summary(receiver) == EXPECTED


async def test_read_events_of_switched_off_departments_are_not_sent(env) -> None:
    receiver, settings, store, b = env
    await store.write(lambda db: departments.set_receipts(db, "billing", False, at(0)))
    d, task = await start(settings, store)
    await traffic(b)
    # the bounce is the last event: once it arrived, nothing hidden can still be on its way
    await until(lambda: bool(receiver.got) and summary(receiver)[-1] == ("event", "bounced"))
    await d.stop()
    await task
    assert summary(receiver) == [
        ("event", "queued"), ("event", "queued"), ("event", "accepted"), ("reply_state", "delivered"),
        ("event", "accepted"), ("event", "bounced")]


def store_failure_attempts(settings) -> int:
    import sqlite3

    with sqlite3.connect(settings.store.path) as c:
        row = c.execute("SELECT max(attempts) FROM webhook_cursors").fetchone()
    return row[0] or 0


def test_signature_covers_timestamp_and_body() -> None:
    s = sign(b"k" * 32, 1700000000, b'{"a":1}')
    assert verify(b"k" * 32, "1700000000", b'{"a":1}', s)
    assert not verify(b"k" * 32, "1700000001", b'{"a":1}', s)
    assert not verify(b"k" * 32, "1700000000", b'{"a":2}', s)
    assert not verify(b"k" * 32, "soon", b'{"a":1}', s)


@pytest.mark.parametrize("attempts,delay", [(1, 5), (2, 10), (3, 20), (8, 600), (30, 600)])
def test_backoff_doubles_up_to_the_maximum(attempts, delay) -> None:
    assert backoff(attempts, 5, 600) == delay


async def test_a_locked_store_delays_webhooks_but_does_not_stop_them(tmp_path) -> None:
    import sqlite3

    receiver = Receiver()
    await receiver.up()
    settings = settings_for(tmp_path, receiver.url)
    store = Store(settings.store.path, busy_timeout=0.1)
    await asyncio.to_thread(store.open)
    b = await asyncio.to_thread(Builder, settings.store.path)
    try:
        d, task = await start(settings, store)
        receiver.gate = asyncio.Event()
        await traffic(b)
        await until(lambda: getattr(receiver, "seen", 0) >= 1)  # the first POST is in flight
        holder = sqlite3.connect(settings.store.path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock (a long `maild purge`)
        receiver.gate.set()  # the POST succeeds; saving the cursor now meets the lock
        await until(lambda: getattr(receiver, "seen", 0) >= 3)  # it goes on delivering meanwhile
        assert not task.done()
        holder.execute("ROLLBACK")
        holder.close()
        await until(lambda: len(receiver.got) == len(EXPECTED))
        await d.stop()
        await task
        assert summary(receiver) == EXPECTED
    finally:
        await asyncio.to_thread(b.close)
        await asyncio.to_thread(store.close)
        await receiver.runner.cleanup()


def test_an_event_payload_carries_its_recipients_read_via_and_evidence(tmp_path: Path) -> None:
    from maild.webhooks import pending_deliveries

    b = Builder(tmp_path / "maild.db")
    r = b.reply("5", [("a@example.net", "to")])
    b.event(r, "a@example.net", "accepted", 1)
    b.event(r, "a@example.net", "replied", 20)
    deliveries, _ = pending_deliveries(b.db, (0, 1), limit=100)
    bodies = [json.loads(d.body) for d in deliveries]
    replied = next(x for x in bodies if x["type"] == "event" and x["event"]["kind"] == "replied")
    assert replied["event"]["source"] == "reply"
    assert replied["recipient"]["state"] == "read" and replied["recipient"]["read_via"] == "reply"
    assert [e["text"] for e in replied["recipient"]["evidence"]] == ["replied 09:20"]
    assert [x["state"] for x in bodies if x["type"] == "reply_state"][-1] == "read"
    b.receipts("Billing", False)
    deliveries, _ = pending_deliveries(b.db, (0, 1), limit=100)
    assert all(json.loads(d.body).get("event", {}).get("kind") != "replied" for d in deliveries)
    b.close()
