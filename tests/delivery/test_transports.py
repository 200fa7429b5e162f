"""LMTP, Maildir and STARTTLS transports, and the scheduler's run/wake/stop loop."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from pathlib import Path

import pytest

from maild import rewrite, tokens
from maild.delivery.scheduler import Scheduler
from tests.delivery.conftest import KEYS, MESSAGE, _start, DsnSMTP, enqueue, make_settings, wait_for


async def _state(store, address: str) -> str:  # type: ignore[no-untyped-def]
    row = await store.read(lambda db: db.execute("SELECT delivery_state FROM recipients WHERE address=?", (address,)).fetchone())
    return row[0]


async def test_lmtp_gives_each_recipient_its_own_data_reply(tmp_path, lmtp_upstream, store, clock):
    lmtp_upstream.script.lmtp_data = {"bob@example.net": "452 4.2.2 Mailbox full"}
    await enqueue(store, ["alice@example.net", "bob@example.net"], tracked=False)
    d = Scheduler(make_settings(tmp_path, f"lmtp://127.0.0.1:{lmtp_upstream.port}"), store, KEYS, clock=clock)
    assert await d.deliver_due() == 1
    assert await _state(store, "alice@example.net") == "accepted"
    assert await _state(store, "bob@example.net") == "deferred"
    reason = await store.read(lambda db: db.execute("SELECT status, reason FROM events WHERE kind='deferred'").fetchone())
    assert reason == ("4.2.2", "mailboxfull")
    await d.stop(1)


async def test_maildir_transport_writes_copy_with_envelope_headers(tmp_path, store, clock):
    outbox = tmp_path / "outbox"
    spooled = await enqueue(store, ["alice@example.net"])
    d = Scheduler(make_settings(tmp_path, f"maildir:{outbox}"), store, KEYS, clock=clock)
    assert await d.deliver_due() == 1
    (path,) = list((outbox / "new").iterdir())
    assert list((outbox / "tmp").iterdir()) == []
    data = path.read_bytes()
    sender = rewrite.get(data, "X-Maild-Envelope-From").strip("<>")
    assert rewrite.get(data, "X-Maild-Envelope-To") == "<alice@example.net>"
    token = sender.split("+", 1)[1].split("@")[0]
    assert tokens.verify(KEYS, token) == tokens.Verified(spooled.recipients[0], "a")
    expected = (
        f"X-Maild-Envelope-From: <{sender}>\r\nX-Maild-Envelope-To: <alice@example.net>\r\n"
        f"Disposition-Notification-To: <{sender}>\r\n"
    ).encode() + MESSAGE
    assert data == expected
    assert await _state(store, "alice@example.net") == "accepted"
    await d.stop(1)


async def test_maildir_write_failure_defers(tmp_path, store, clock):
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    await enqueue(store, ["alice@example.net"])
    d = Scheduler(make_settings(tmp_path, f"maildir:{blocker}"), store, KEYS, clock=clock)
    await d.deliver_due()
    assert await _state(store, "alice@example.net") == "deferred"
    await d.stop(1)


async def test_starttls_required_but_not_offered_defers_without_sending(tmp_path, upstream, store, clock):
    await enqueue(store, ["alice@example.net"])
    d = Scheduler(make_settings(tmp_path, f"smtp+starttls://127.0.0.1:{upstream.port}"), store, KEYS, clock=clock)
    await d.deliver_due()
    assert await _state(store, "alice@example.net") == "deferred"
    diag = await store.read(lambda db: db.execute("SELECT diagnostic FROM events WHERE kind='deferred'").fetchone())
    assert "does not offer STARTTLS" in diag[0]
    assert upstream.handler.transactions == 0  # no MAIL FROM ever went out in plain text
    await d.stop(1)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_upstream(certificate):  # type: ignore[no-untyped-def]
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    yield from _start(DsnSMTP, tls_context=context, require_starttls=True)


async def test_starttls_with_verified_certificate_delivers(tmp_path, tls_upstream, certificate, store, clock):
    await enqueue(store, ["alice@example.net"])
    settings = make_settings(tmp_path, f"smtp+starttls://127.0.0.1:{tls_upstream.port}", tls_ca_file=str(certificate[0]))
    d = Scheduler(settings, store, KEYS, clock=clock)
    await d.deliver_due()
    assert await _state(store, "alice@example.net") == "accepted"
    assert len(tls_upstream.received) == 1
    await d.stop(1)


async def test_starttls_with_unverifiable_certificate_defers(tmp_path, tls_upstream, store, clock):
    await enqueue(store, ["alice@example.net"])
    d = Scheduler(make_settings(tmp_path, f"smtp+starttls://127.0.0.1:{tls_upstream.port}"), store, KEYS, clock=clock)
    await d.deliver_due()
    assert await _state(store, "alice@example.net") == "deferred"
    diag = await store.read(lambda db: db.execute("SELECT diagnostic FROM events WHERE kind='deferred'").fetchone())
    assert "TLS handshake" in diag[0] and "CERTIFICATE_VERIFY_FAILED" in diag[0]
    assert tls_upstream.received == []
    await d.stop(1)


@pytest.fixture
def smtps_upstream(certificate):  # type: ignore[no-untyped-def]
    """Implicit TLS from the first byte (RFC 8314 submissions port style): no plain-text greeting at all."""
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    yield from _start(DsnSMTP, ssl_context=context)


async def test_smtps_with_verified_certificate_delivers_over_tls(tmp_path, smtps_upstream, certificate, store, clock):
    await enqueue(store, ["alice@example.net"])
    settings = make_settings(tmp_path, f"smtps://127.0.0.1:{smtps_upstream.port}", tls_ca_file=str(certificate[0]))
    d = Scheduler(settings, store, KEYS, clock=clock)
    await d.deliver_due()
    assert await _state(store, "alice@example.net") == "accepted"
    assert len(smtps_upstream.received) == 1
    assert smtps_upstream.received[0].rcpt_tos == ["alice@example.net"]
    await d.stop(1)


async def test_smtps_with_unverifiable_certificate_defers_and_sends_nothing(tmp_path, smtps_upstream, store, clock):
    await enqueue(store, ["alice@example.net"])
    d = Scheduler(make_settings(tmp_path, f"smtps://127.0.0.1:{smtps_upstream.port}"), store, KEYS, clock=clock)
    await d.deliver_due()
    assert await _state(store, "alice@example.net") == "deferred"
    diag = await store.read(lambda db: db.execute("SELECT diagnostic FROM events WHERE kind='deferred'").fetchone())
    assert "CERTIFICATE_VERIFY_FAILED" in diag[0]
    assert smtps_upstream.received == []
    await d.stop(1)


async def test_plain_smtp_to_an_smtps_port_is_deferred_not_sent(tmp_path, smtps_upstream, store, clock):
    await enqueue(store, ["alice@example.net"])
    settings = make_settings(tmp_path, f"smtp://127.0.0.1:{smtps_upstream.port}", connect_timeout="3s",
                             command_timeout="3s")
    d = Scheduler(settings, store, KEYS, clock=clock)
    await d.deliver_due()
    assert await _state(store, "alice@example.net") == "deferred"
    assert smtps_upstream.received == []
    await d.stop(1)


async def test_run_delivers_on_wake_and_stop_ends_it(tmp_path, upstream, store):
    d = Scheduler(make_settings(tmp_path, f"smtp://127.0.0.1:{upstream.port}", poll_interval="1h"), store, KEYS)
    runner = asyncio.create_task(d.run())
    await enqueue(store, ["alice@example.net"], at=__import__("maild.clock").clock.now())
    d.wake()
    await wait_for(lambda: d.stats().accepted == 1)
    await d.stop(5)
    await asyncio.wait_for(runner, 5)
    assert d.stats().in_flight == 0 and d.stats().attempts == 1
    assert await _state(store, "alice@example.net") == "accepted"


async def test_stop_cancels_a_stuck_copy_which_stays_queued(tmp_path, upstream, store):
    from maild.clock import now

    class Stuck:
        started = asyncio.Event()

        async def send(self, copy):  # type: ignore[no-untyped-def]
            self.started.set()
            await asyncio.Event().wait()

        def reap_idle(self) -> None:
            pass

        async def close(self) -> None:
            pass

    stuck = Stuck()
    d = Scheduler(make_settings(tmp_path, f"smtp://127.0.0.1:{upstream.port}"), store, KEYS, transport_=stuck)
    await enqueue(store, ["alice@example.net"], at=now())
    runner = asyncio.create_task(d.run())
    await asyncio.wait_for(stuck.started.wait(), 5)
    await d.stop(0.05)
    await asyncio.wait_for(runner, 5)
    assert await _state(store, "alice@example.net") == "queued"


async def test_copy_not_recorded_before_a_restart_is_delivered_after_it(tmp_path, upstream, store):
    from maild.clock import now

    class Crash:
        async def send(self, copy):  # type: ignore[no-untyped-def]
            raise asyncio.CancelledError  # the process dies mid-copy: nothing is recorded

        def reap_idle(self) -> None:
            pass

        async def close(self) -> None:
            pass

    settings = make_settings(tmp_path, f"smtp://127.0.0.1:{upstream.port}")
    await enqueue(store, ["alice@example.net"], at=now())
    first = Scheduler(settings, store, KEYS, transport_=Crash())
    with pytest.raises(asyncio.CancelledError):
        await first.deliver_due()
    assert await _state(store, "alice@example.net") == "queued"
    second = Scheduler(settings, store, KEYS)  # after restart: a new scheduler on the same store
    assert await second.deliver_due() == 1
    assert await _state(store, "alice@example.net") == "accepted"
    assert len(upstream.received) == 1
    await second.stop(1)


async def test_auth_plain_to_the_upstream_on_loopback(tmp_path, store, clock):
    from aiosmtpd.smtp import AuthResult

    seen: list[tuple[bytes, bytes]] = []

    def authenticator(server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        seen.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.login == b"maild" and auth_data.password == b"s3cret")

    password = tmp_path / "upstream.password"
    password.write_text("s3cret\n")
    for server in _start(DsnSMTP, authenticator=authenticator, auth_require_tls=False):
        await enqueue(store, ["alice@example.net"])
        settings = make_settings(
            tmp_path, f"smtp://127.0.0.1:{server.port}", username="maild", password_file=str(password)
        )
        d = Scheduler(settings, store, KEYS, clock=clock)
        await d.deliver_due()
        await d.stop(1)
        assert seen == [(b"maild", b"s3cret")]
        assert len(server.received) == 1
    assert await _state(store, "alice@example.net") == "accepted"


async def test_large_message_arrives_byte_for_byte(tmp_path, upstream, store, clock):
    raw = b"Subject: big\r\n\r\n" + b"".join(b"%07d " % i + b"x" * 70 + b"\r\n" for i in range(40000))  # ~3 MB
    await enqueue(store, ["alice@example.net"], raw=raw, receipts=False)
    d = Scheduler(make_settings(tmp_path, f"smtp://127.0.0.1:{upstream.port}"), store, KEYS, clock=clock)
    await d.deliver_due()
    assert upstream.received[0].data == raw
    await d.stop(1)


async def test_garbage_from_the_upstream_defers_with_its_words(tmp_path, store, clock):
    async def babble(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"hello, I am not an SMTP server\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(babble, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        await enqueue(store, ["alice@example.net"])
        d = Scheduler(make_settings(tmp_path, f"smtp://127.0.0.1:{port}"), store, KEYS, clock=clock)
        await d.deliver_due()
        await d.stop(1)
    assert await _state(store, "alice@example.net") == "deferred"
    diag = await store.read(lambda db: db.execute("SELECT diagnostic FROM events WHERE kind='deferred'").fetchone())
    assert "malformed SMTP reply line" in diag[0]


async def test_silent_upstream_times_out_and_defers(tmp_path, store, clock):
    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never greets
        writer.close()

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        await enqueue(store, ["alice@example.net"])
        d = Scheduler(make_settings(tmp_path, f"smtp://127.0.0.1:{port}", command_timeout=0.2), store, KEYS, clock=clock)
        await d.deliver_due()
        await d.stop(1)
    diag = await store.read(lambda db: db.execute("SELECT diagnostic FROM events WHERE kind='deferred'").fetchone())
    assert "timeout waiting for the replies to greeting" in diag[0]
