"""The intake's cheaper bookkeeping keeps issue 14's limits: the idle deadline per phase, the memory budget's queue,
and which messages are examined on the event loop rather than in a worker thread."""

from __future__ import annotations

import asyncio

import pytest

from maild.intake.limits import MemoryBudget
from maild.intake.server import LOOP_EXAMINE_MAX_BYTES, LOOP_EXAMINE_MAX_HEADER, examined_on_loop

CONFIG = '[intake]\nlisten = ["127.0.0.1:0"]\n'


async def test_a_session_back_from_a_transaction_to_idle_gets_the_shorter_idle_timeout(make_config, start_intake):
    # the idle deadline moves sooner (30 s in a transaction, then 0.5 s idle after RSET): the timer must follow
    intake = await start_intake(make_config(CONFIG + 'idle_timeout = "0.5s"\ncommand_timeout = "30s"\n'))
    reader, writer = await asyncio.open_connection("127.0.0.1", intake.port)
    await reader.readline()
    writer.write(b"EHLO client\r\nMAIL FROM:<agent@helpdesk.example.com>\r\n")
    while not (await reader.readline()).startswith(b"250 2.1.0"):
        pass
    writer.write(b"RSET\r\n")
    assert (await asyncio.wait_for(reader.readline(), 5)).startswith(b"250")
    assert await asyncio.wait_for(reader.read(), 10) == b""  # closed by the server, long before 30 s
    writer.close()


async def test_budget_waiters_are_served_in_arrival_order_as_bytes_are_released():
    budget = MemoryBudget(100)
    assert await budget.reserve_within(60, 0)
    order: list[str] = []

    async def wait(name: str, size: int) -> None:
        assert await budget.reserve_within(size, 30)
        order.append(name)

    first = asyncio.ensure_future(wait("first", 60))
    second = asyncio.ensure_future(wait("second", 30))
    await asyncio.sleep(0)
    # the 30 would fit now, but it came after the 60: it does not overtake (no starvation of large transfers)
    assert not first.done() and not second.done() and budget.reserved == 60
    budget.release(60)
    await asyncio.gather(first, second)
    assert order == ["first", "second"] and budget.reserved == 90
    assert not await budget.reserve_within(20, 0)  # full, no wait: refused at once
    # a newcomer queues behind waiters instead of taking bytes they wait for
    third = asyncio.ensure_future(budget.reserve_within(50, 30))
    await asyncio.sleep(0)
    assert not third.done() and budget.reserved == 90
    budget.release(60)
    assert await third and budget.reserved == 80


async def test_a_budget_wait_ends_in_false_after_its_time_and_the_queue_moves_on():
    budget = MemoryBudget(100)
    assert budget.reserve(90)
    late = asyncio.ensure_future(budget.reserve_within(50, 0.05))
    small = asyncio.ensure_future(budget.reserve_within(10, 30))
    assert await late is False
    assert await small is True  # it waited behind the expired one only
    assert budget.reserved == 100


async def test_a_session_gone_while_waiting_leaves_nothing_reserved():
    budget = MemoryBudget(100)
    assert budget.reserve(100)
    waiter = asyncio.ensure_future(budget.reserve_within(40, 30))
    await asyncio.sleep(0)
    budget.release(100)  # granted to the waiter...
    waiter.cancel()  # ...whose session goes away before it runs
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert budget.reserved == 0


def test_only_small_messages_with_a_small_header_section_are_examined_on_the_loop():
    header = b"Subject: x\r\n\r\n"
    assert examined_on_loop(header + b"a" * 1000)
    assert not examined_on_loop(header + b"a" * LOOP_EXAMINE_MAX_BYTES)  # too big: a worker thread
    long_header = b"X:" + b"y" * LOOP_EXAMINE_MAX_HEADER + b"\r\n\r\nbody"
    assert len(long_header) < LOOP_EXAMINE_MAX_BYTES and not examined_on_loop(long_header)
    assert not examined_on_loop(b"X: y\r\n" * 10)  # no end of the header section: a worker thread
