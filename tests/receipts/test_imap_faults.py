"""IMAP faults a real server will not produce on demand, against a scripted fake server on a loopback socket."""

from __future__ import annotations

import asyncio

from maild import config
from maild.core.backoff import backoff, half_jitter
from maild.receipts.imap import FIRST_BACKOFF, MAX_BACKOFF, ImapSource
from tests.receipts import mail
from tests.receipts.conftest import async_wait_for, event_kinds, send
from tests.receipts.fake_imap import FakeImap


def make(fake: FakeImap, tmp_path, ingestor, store, **extra) -> ImapSource:
    pw = tmp_path / "pw"
    pw.write_text("secret\n")
    table = {"url": f"imap://receipts@127.0.0.1:{fake.port}/INBOX", "password_file": str(pw),
             "poll_interval": "0.05s", "command_timeout": "3s", **extra}
    settings = config.parse({"receipts": [table]}, tmp_path / "maild.toml").receipts[0]
    return ImapSource(settings, ingestor, store)


async def test_connection_closed_in_the_middle_of_a_fetch_reconnects_and_records_once(db, tmp_path, ingestor, store):
    sent = send(db, "alice@example.net")
    fake = await FakeImap({1: mail.dsn(sent.token("alice@example.net"), "alice@example.net")}, drop_fetch=1).start()
    source = make(fake, tmp_path, ingestor, store)
    task = asyncio.create_task(source.run())
    try:
        await async_wait_for(lambda: fake.moved == {1: "processed"}, what="moved after reconnect")
    finally:
        await source.stop()
        await asyncio.wait_for(task, 10)
        await fake.close()
    assert fake.connections >= 2
    assert "uid fetch: connection lost" in (source.stats.last_error or "")
    assert event_kinds(db) == ["bounced"]


async def test_starttls_required_but_not_offered_never_sends_the_password(db, tmp_path, ingestor, store):
    fake = await FakeImap({}).start()
    source = make(fake, tmp_path, ingestor, store, starttls=True)
    task = asyncio.create_task(source.run())
    try:
        await async_wait_for(lambda: source.stats.failures >= 1, what="a failed session")
    finally:
        await source.stop()
        await asyncio.wait_for(task, 10)
        await fake.close()
    assert "LOGIN" not in fake.commands
    assert "STARTTLS" in (source.stats.last_error or "")


async def test_server_without_idle_is_polled(db, tmp_path, ingestor, store):
    sent = send(db, "alice@example.net")
    fake = await FakeImap({}).start()
    source = make(fake, tmp_path, ingestor, store)
    task = asyncio.create_task(source.run())
    try:
        await async_wait_for(lambda: source.connected, what="connected")
        fake.messages[1] = mail.mdn(sent.token("alice@example.net"), "alice@example.net")
        await async_wait_for(lambda: fake.moved == {1: "processed"}, what="picked up by polling")
    finally:
        await source.stop()
        await asyncio.wait_for(task, 10)
        await fake.close()
    assert "IDLE" not in fake.commands
    assert event_kinds(db) == ["displayed"]


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    for failures, (lo, hi) in {1: (0.25, 0.5), 2: (0.5, 1.0), 5: (4.0, 8.0), 30: (150.0, 300.0)}.items():
        assert all(lo <= backoff(failures, FIRST_BACKOFF, MAX_BACKOFF, jitter=half_jitter) <= hi for _ in range(50))
