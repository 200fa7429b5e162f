"""Intake over real sockets: relay policy, AUTH only after TLS, limits, smuggling, durability before 250."""

from __future__ import annotations

import ssl

import aiosmtplib
import pytest

from maild.intake.auth import hash_password
from tests.intake.conftest import raw_smtp

MESSAGE = (
    b"From: Agent <agent@helpdesk.example.com>\r\n"
    b"To: Alice <alice@example.net>\r\n"
    b"Cc: bob@example.net\r\n"
    b"Subject: [#1234] Your invoice\r\n"
    b"Message-ID: <reply-1@helpdesk.example.com>\r\n"
    b"X-Ticket-ID: 1234\r\n"
    b"X-Department: Billing\r\n"
    b"\r\n"
    b"Hello Alice,\r\nyour invoice.\r\n"
)


async def send(port: int, rcpts: list[str], message: bytes = MESSAGE, **kw) -> tuple[dict, str]:
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, **kw) as client:
        errors, reply = await client.sendmail("agent@helpdesk.example.com", rcpts, message)
    return errors, reply


async def test_allowed_network_is_accepted_and_spooled_before_250(make_config, start_intake):
    intake = await start_intake(make_config())
    errors, reply = await send(intake.port, ["alice@example.net", "bob@example.net", "carol@example.net"])
    assert errors == {}
    assert reply.startswith("2.0.0 Ok: queued as ")
    queue_id = reply.rsplit(" ", 1)[1]
    # the 250 came after the commit: a fresh connection sees everything
    msg = intake.rows("SELECT id, ticket, department, tracked FROM messages WHERE queue_id = ?", (queue_id,))
    assert msg and msg[0][1:] == ("1234", "Billing", 1)
    rcpts = intake.rows("SELECT address, kind, token IS NOT NULL FROM recipients WHERE message = ? ORDER BY id", (msg[0][0],))
    assert rcpts == [("alice@example.net", "to", 1), ("bob@example.net", "cc", 1), ("carol@example.net", "bcc", 1)]
    queued = intake.rows("SELECT count(*) FROM events WHERE message = ? AND kind = 'queued'", (msg[0][0],))
    assert queued == [(3,)]
    assert intake.spooled == [1]


async def test_internal_headers_are_stripped_and_the_rest_kept_byte_for_byte(make_config, start_intake):
    intake = await start_intake(make_config())
    await send(intake.port, ["alice@example.net"])
    headers, body = intake.rows("SELECT headers, body FROM messages")[0]
    expected = MESSAGE.replace(b"X-Ticket-ID: 1234\r\n", b"").replace(b"X-Department: Billing\r\n", b"")
    assert headers + body == expected


async def test_mail_without_ticket_is_untracked_and_untouched(make_config, start_intake):
    intake = await start_intake(make_config())
    plain = b"From: a@helpdesk.example.com\r\nTo: alice@example.net\r\nSubject: hi\r\nX-Department: x\r\n\r\nbody\r\n"
    await send(intake.port, ["alice@example.net"], plain)
    (headers, body, tracked), = intake.rows("SELECT headers, body, tracked FROM messages")
    assert tracked == 0 and headers + body == plain
    assert intake.rows("SELECT token FROM recipients") == [(None,)]


async def test_ticket_from_subject_when_no_header(make_config, start_intake):
    intake = await start_intake(make_config())
    msg = b"From: a@helpdesk.example.com\r\nTo: alice@example.net\r\nSubject: Re: [#987] help\r\n\r\nbody\r\n"
    await send(intake.port, ["alice@example.net"], msg)
    assert intake.rows("SELECT ticket, tracked FROM messages") == [("987", 1)]


async def test_department_from_sender_map(make_config, start_intake):
    intake = await start_intake(make_config('[tracking]\nsender_departments = { "agent@helpdesk.example.com" = "Sales" }\n'))
    msg = b"From: agent@helpdesk.example.com\r\nTo: alice@example.net\r\nSubject: [#5] x\r\n\r\nbody\r\n"
    await send(intake.port, ["alice@example.net"], msg)
    assert intake.rows("SELECT department FROM messages") == [("Sales",)]


async def test_other_networks_get_554_at_rcpt(make_config, start_intake):
    intake = await start_intake(make_config('allowed_networks = ["10.0.0.0/8"]\n'))
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as info:
        await send(intake.port, ["alice@example.net"])
    assert info.value.recipients[0].code == 554
    assert "5.7.1" in info.value.recipients[0].message
    assert intake.rows("SELECT count(*) FROM messages") == [(0,)]


async def test_auth_is_not_offered_without_tls_and_refused_before_starttls(make_config, start_intake, tls_cert, tmp_path):
    users = tmp_path / "users"
    users.write_text("helpdesk:" + hash_password("pw", n=2**10) + "\n")
    cert, key = tls_cert
    intake = await start_intake(make_config(
        f'allowed_networks = []\nusers_file = "{users}"\ntls_cert_file = "{cert}"\ntls_key_file = "{key}"\n'
    ))
    replies = await raw_smtp(intake.port, [b"EHLO client\r\n", b"AUTH PLAIN AGhlbHBkZXNrAHB3\r\n"])
    assert b"AUTH" not in replies[1] and b"STARTTLS" in replies[1]
    assert replies[2].startswith(b"538 5.7.11")  # RFC 4954: encryption required


async def test_auth_after_starttls_may_relay_from_anywhere(make_config, start_intake, tls_cert, tmp_path):
    users = tmp_path / "users"
    users.write_text("helpdesk:" + hash_password("pw", n=2**10) + "\n")
    cert, key = tls_cert
    intake = await start_intake(make_config(
        f'allowed_networks = []\nusers_file = "{users}"\ntls_cert_file = "{cert}"\ntls_key_file = "{key}"\n'
    ))
    ctx = ssl.create_default_context(cafile=str(cert))
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=intake.port, start_tls=True, tls_context=ctx) as client:
        with pytest.raises(aiosmtplib.SMTPAuthenticationError):
            await client.login("helpdesk", "wrong")
        await client.login("helpdesk", "pw")
        errors, reply = await client.sendmail("agent@helpdesk.example.com", ["alice@example.net"], MESSAGE)
    assert errors == {} and reply.startswith("2.0.0")


async def test_unauthenticated_client_is_refused_when_only_auth_may_relay(make_config, start_intake, tls_cert, tmp_path):
    users = tmp_path / "users"
    users.write_text("helpdesk:" + hash_password("pw", n=2**10) + "\n")
    cert, key = tls_cert
    intake = await start_intake(make_config(
        f'allowed_networks = []\nusers_file = "{users}"\ntls_cert_file = "{cert}"\ntls_key_file = "{key}"\n'
    ))
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as info:
        await send(intake.port, ["alice@example.net"])
    assert info.value.recipients[0].code == 554


async def test_implicit_tls_listener_offers_auth(make_config, start_intake, tls_cert, tmp_path):
    users = tmp_path / "users"
    users.write_text("helpdesk:" + hash_password("pw", n=2**10) + "\n")
    cert, key = tls_cert
    intake = await start_intake(make_config(
        '[intake]\nlisten = ["127.0.0.1:0"]\ntls_listen = ["127.0.0.1:0"]\nallowed_networks = []\n'
        f'users_file = "{users}"\ntls_cert_file = "{cert}"\ntls_key_file = "{key}"\n'
    ))
    ctx = ssl.create_default_context(cafile=str(cert))
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=intake.tls_port, use_tls=True, tls_context=ctx) as client:
        await client.login("helpdesk", "pw")
        errors, _ = await client.sendmail("agent@helpdesk.example.com", ["alice@example.net"], MESSAGE)
    assert errors == {}


async def test_oversized_message_gets_552_and_nothing_is_stored(make_config, start_intake):
    intake = await start_intake(make_config('max_message_size = "2KB"\n'))
    big = MESSAGE + b"x" * 80 + b"\r\n"
    big = big * 40
    with pytest.raises(aiosmtplib.SMTPResponseException) as info:
        await send(intake.port, ["alice@example.net"], big)
    assert info.value.code == 552
    assert intake.rows("SELECT count(*) FROM messages") == [(0,)]


@pytest.mark.parametrize(
    "smuggle",
    [
        b"\n.\n",  # bare LF dot bare LF
        b"\n.\r\n",
        b"\r\n.\n",
        b"\r.\r\n",  # bare CR
        b"\r\n.\r",
    ],
)
async def test_smuggling_sequences_are_refused(make_config, start_intake, smuggle):
    intake = await start_intake(make_config())
    body = (
        MESSAGE + b"first" + smuggle
        + b"MAIL FROM:<evil@example.org>\r\nRCPT TO:<victim@example.net>\r\nDATA\r\nsmuggled\r\n.\r\n"
    )
    replies = await raw_smtp(intake.port, [
        b"EHLO c\r\n", b"MAIL FROM:<agent@helpdesk.example.com>\r\n", b"RCPT TO:<alice@example.net>\r\n",
        b"DATA\r\n", body, b"QUIT\r\n",
    ])
    assert replies[5].startswith(b"554 5.6.0")
    assert intake.rows("SELECT count(*) FROM messages") == [(0,)]


@pytest.mark.parametrize("address", ["no-at-sign", "a@", "@b.example", "a b@example.net"])
async def test_malformed_recipient_gets_a_clear_5xx(make_config, start_intake, address):
    intake = await start_intake(make_config())
    replies = await raw_smtp(intake.port, [
        b"EHLO c\r\n", b"MAIL FROM:<agent@helpdesk.example.com>\r\n", f"RCPT TO:<{address}>\r\n".encode(), b"QUIT\r\n",
    ])
    assert replies[3][:1] == b"5" and b"address" in replies[3].lower()


async def test_failed_commit_answers_451_and_stores_nothing(make_config, start_intake):
    intake = await start_intake(make_config())
    import sqlite3

    conn = sqlite3.connect(intake.settings.store.path)
    conn.execute("CREATE TRIGGER fail_insert BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'simulated disk failure'); END")
    conn.commit()
    conn.close()
    with pytest.raises(aiosmtplib.SMTPDataError) as info:
        await send(intake.port, ["alice@example.net", "bob@example.net"])
    assert info.value.code == 451 and "4.3.0" in info.value.message
    assert intake.rows("SELECT (SELECT count(*) FROM messages), (SELECT count(*) FROM recipients)") == [(0, 0)]


async def test_unexpected_error_answers_451_not_500(make_config, start_intake, monkeypatch):
    intake = await start_intake(make_config())

    def broken(*args, **kwargs):
        raise ValueError("internal detail that must not leak")

    monkeypatch.setattr("maild.intake.server.read_incoming", broken)
    with pytest.raises(aiosmtplib.SMTPDataError) as info:
        await send(intake.port, ["alice@example.net"])
    assert info.value.code == 451 and "internal detail" not in info.value.message


async def test_too_many_recipients_get_452(make_config, start_intake):
    intake = await start_intake(make_config("max_recipients = 2\n"))
    errors, _ = await send(intake.port, ["a@example.net", "b@example.net", "c@example.net"])
    assert errors["c@example.net"][0] == 452


async def test_concurrent_sessions_all_get_250_and_share_commits(make_config, start_intake):
    import asyncio

    import threading
    import time

    intake = await start_intake(make_config())
    writer = intake.store.writer
    # Hold the writer thread so that all 30 sessions' spool writes are queued behind it; once it is let go they
    # must go out together (one group commit), and no session may have had its 250 before that commit.
    entered, release = threading.Event(), threading.Event()
    held = asyncio.ensure_future(intake.store.write(lambda db: (entered.set(), release.wait(60))))
    assert await asyncio.to_thread(entered.wait, 30)
    sends = asyncio.gather(*(send(intake.port, [f"r{i}@example.net"]) for i in range(30)))
    deadline = time.monotonic() + 60
    while writer._queue.qsize() < 30:
        assert time.monotonic() < deadline, f"only {writer._queue.qsize()} spool writes queued"
        assert not sends.done(), "a session finished while the writer was held"
        await asyncio.sleep(0.02)
    before = writer.stats.commits
    release.set()
    await held
    results = await sends
    assert all(reply.startswith("2.0.0") for _, reply in results)
    assert intake.rows("SELECT count(*) FROM messages") == [(30,)]
    assert writer.stats.jobs >= 31
    assert writer.stats.commits - before <= 2, writer.stats  # the held job's commit, then one group for the 30


async def test_shutdown_lets_a_transaction_finish_and_tells_new_sessions_421(make_config, start_intake):
    import asyncio

    intake = await start_intake(make_config())
    reader, writer = await asyncio.open_connection("127.0.0.1", intake.port)

    async def cmd(line: bytes) -> bytes:
        writer.write(line)
        await writer.drain()
        out = b""
        while True:
            got = await asyncio.wait_for(reader.readline(), 10)
            out += got
            if got[3:4] != b"-":
                return out

    await asyncio.wait_for(reader.readline(), 10)
    await cmd(b"EHLO c\r\n")
    await cmd(b"MAIL FROM:<agent@helpdesk.example.com>\r\n")
    stopping = asyncio.create_task(intake.server.stop(timeout=10))
    deadline = asyncio.get_running_loop().time() + 30
    while not intake.server.handler.closing:  # noqa: ASYNC110 - the flag is set by stop() in its own task
        assert asyncio.get_running_loop().time() < deadline, "intake never started closing"
        await asyncio.sleep(0.01)
    greeting = (await raw_smtp(intake.port, []))[0]
    assert greeting.startswith(b"421 4.3.2")
    assert (await cmd(b"RCPT TO:<alice@example.net>\r\n")).startswith(b"250")
    await cmd(b"DATA\r\n")
    assert (await cmd(MESSAGE + b".\r\n")).startswith(b"250 2.0.0")
    await asyncio.wait_for(stopping, 10)
    writer.close()
    assert intake.rows("SELECT count(*) FROM messages") == [(1,)]
