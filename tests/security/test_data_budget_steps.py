"""A DATA without SIZE= reserves the memory budget step by step as its bytes arrive, against a real intake.

Many small transfers share a small budget at once; big ones that together exceed it
are paused, and when every one of them waits to grow the last to ask is refused with
452 after its own end of data (never a standstill, never a body line read as a command).
"""

from __future__ import annotations

import asyncio
import ssl

import aiosmtplib

from maild.intake.limits import DATA_STEP
from tests.security.test_memory_and_loop import CONFIG, _command, _open_transaction

MIB = 1024 * 1024


def _body(nbytes: int, tag: bytes) -> bytes:
    # lines that would be commands if the body were ever read as such
    line = b"QUIT\r\nRSET\r\n" + tag * 70 + b"\r\n"
    return b"Subject: big\r\n\r\n" + line * (nbytes // len(line))


async def _until(condition, what: str, timeout: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"never: {what}"
        await asyncio.sleep(0.01)


async def test_many_clients_without_size_are_all_admitted_under_a_small_budget(make_config, start_intake):
    # 8 MB fits eight first steps; reserving max_message_size (35 MB) each admitted one, the others waited 60 s
    intake = await start_intake(make_config(CONFIG + 'data_memory_budget = "8MB"\ndata_memory_wait = "60s"\n'))
    sessions = [await _open_transaction(intake.port) for _ in range(8)]
    for r, w in sessions:
        w.write(b"DATA\r\n")
    replies = await asyncio.wait_for(asyncio.gather(*(r.readline() for r, _ in sessions)), 20)
    assert all(reply.startswith(b"354") for reply in replies), replies
    assert intake.server.memory.reserved == 8 * DATA_STEP
    message = b"Subject: small\r\n\r\n" + b"a" * 70 + b"\r\n"
    for r, w in sessions:
        assert (await _command(r, w, message * 100 + b".\r\n")).startswith(b"250")
    assert intake.rows("SELECT count(*) FROM messages") == [(8,)]
    await _until(lambda: intake.server.memory.reserved == 0, "every reservation released")
    for _, w in sessions:
        w.close()


async def test_a_message_bigger_than_a_step_grows_its_holding_and_is_stored_whole(make_config, start_intake):
    intake = await start_intake(make_config(
        CONFIG + 'data_memory_budget = "16MB"\nmax_header_size = "1MB"\nmax_message_size = "10MB"\n'))
    r, w = await _open_transaction(intake.port)
    assert (await _command(r, w, b"DATA\r\n")).startswith(b"354")
    body = _body(3 * MIB, b"g")
    assert (await _command(r, w, body + b".\r\n")).startswith(b"250")
    assert intake.server.memory.peak >= 3 * MIB  # it grew past the first step
    # dot-unstuffing aside the stored bytes are the bytes sent (a body with no leading dots)
    assert intake.rows("SELECT length(headers) + length(body) FROM messages") == [(len(body),)]
    w.close()


async def test_when_every_transfer_waits_to_grow_the_last_to_ask_gets_452_after_its_end_of_data(make_config, start_intake):
    # a 600 s wait: a standstill would show as this test's timeout, not as a late 452
    intake = await start_intake(make_config(
        CONFIG + 'data_memory_budget = "2MB"\nmax_message_size = "10MB"\ndata_memory_wait = "600s"\n'))
    memory = intake.server.memory
    first_r, first_w = await _open_transaction(intake.port)
    second_r, second_w = await _open_transaction(intake.port)
    assert (await _command(first_r, first_w, b"DATA\r\n")).startswith(b"354")
    assert (await _command(second_r, second_w, b"DATA\r\n")).startswith(b"354")
    assert memory.reserved == 2 * DATA_STEP  # the whole budget, one step each
    first_body, second_body = _body(3 * MIB, b"f"), _body(3 * MIB, b"s")
    first_w.write(first_body[: 2 * MIB])
    await _until(lambda: memory.stalled == DATA_STEP, "the first transfer waiting to grow")
    second_w.write(second_body[: 2 * MIB])
    await _until(lambda: memory.refused_growths == 1, "the second refused: nothing else could release")
    first_w.write(first_body[2 * MIB :] + b".\r\n")
    assert (await asyncio.wait_for(first_r.readline(), 60)).startswith(b"250")
    # the refused one hears nothing until it has sent all its data: the rest of the body is dropped
    early = asyncio.ensure_future(second_r.readline())
    await asyncio.sleep(0.5)
    assert not early.done()
    second_w.write(second_body[2 * MIB :] + b".\r\n")
    assert (await asyncio.wait_for(early, 60)).startswith(b"452 4.3.1")
    # the QUIT and RSET lines of the dropped body were never commands: the session goes on, and fits now
    assert (await _command(second_r, second_w, b"RSET\r\n")).startswith(b"250")
    assert (await _command(second_r, second_w, b"MAIL FROM:<agent@helpdesk.example.com>\r\n")).startswith(b"250")
    assert (await _command(second_r, second_w, b"RCPT TO:<bob@example.net>\r\n")).startswith(b"250")
    assert (await _command(second_r, second_w, b"DATA\r\n")).startswith(b"354")
    assert (await _command(second_r, second_w, b"Subject: again\r\n\r\nshort\r\n.\r\n")).startswith(b"250")
    assert intake.rows("SELECT count(*) FROM messages") == [(2,)]
    assert intake.server.handler.stats.rejected.get("memory_budget") == 1
    await _until(lambda: memory.reserved == 0 and memory.stalled == 0, "every reservation released")
    for w in (first_w, second_w):
        w.close()


async def test_a_flood_of_big_transfers_without_size_is_answered_250_or_452_never_left_hanging(make_config, start_intake):
    intake = await start_intake(make_config(
        CONFIG + 'data_memory_budget = "3MB"\nmax_message_size = "10MB"\ndata_memory_wait = "600s"\n'))
    memory = intake.server.memory
    size = 2 * MIB + 1000

    async def send(n: int) -> bytes:
        r, w = await _open_transaction(intake.port)
        try:
            reply = await _command(r, w, b"DATA\r\n")
            if not reply.startswith(b"354"):
                return reply
            w.write(_body(size, b"%d" % n) + b".\r\n")
            return await asyncio.wait_for(r.readline(), 120)
        finally:
            w.close()

    replies = await asyncio.wait_for(asyncio.gather(*(send(n) for n in range(8))), 240)
    stored = sum(reply.startswith(b"250") for reply in replies)
    assert all(reply.startswith((b"250", b"452 4.3.1")) for reply in replies), replies
    assert stored >= 1 and stored < 8, replies  # some went through; 8 x 2 MB never fit 3 MB together
    assert intake.rows("SELECT count(*) FROM messages") == [(stored,)]
    # bounded: the budget, or one transfer alone over it (a budget below one message must not refuse them all)
    assert memory.peak <= max(3 * MIB, size + DATA_STEP)
    await _until(lambda: memory.reserved == 0 and memory.stalled == 0, "every reservation released")


async def test_steps_and_pauses_work_the_same_after_starttls(make_config, start_intake, tls_cert):
    cert, key = tls_cert
    intake = await start_intake(make_config(
        CONFIG + f'tls_cert_file = "{cert}"\ntls_key_file = "{key}"\n'
        'data_memory_budget = "2MB"\nmax_message_size = "10MB"\ndata_memory_wait = "600s"\n'))
    ctx = ssl.create_default_context(cafile=str(cert))
    body = _body(3 * MIB, b"t")

    async def send() -> int:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=intake.port, start_tls=True, tls_context=ctx,
                                   timeout=120) as client:
            await client.mail("agent@helpdesk.example.com")  # no SIZE= (sendmail would declare it)
            await client.rcpt("alice@example.net")
            try:
                return (await client.data(body)).code
            except aiosmtplib.SMTPDataError as exc:
                assert exc.message.startswith("4.3.1"), exc.message
                return exc.code

    codes = await asyncio.wait_for(asyncio.gather(send(), send()), 240)
    assert set(codes) <= {250, 452} and 250 in codes, codes
    assert intake.rows("SELECT count(*), min(length(headers) + length(body)) FROM messages") == [
        (codes.count(250), len(body))
    ]
    await _until(lambda: intake.server.memory.reserved == 0, "every reservation released")
