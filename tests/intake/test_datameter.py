"""The DATA meter's bookkeeping and the memory budget's growth: steps, priority, refusal when all are stalled."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from maild.intake.datameter import DataMeter
from maild.intake.limits import Holding, MemoryBudget


def test_bytes_within_the_holding_go_on_and_bytes_beyond_it_wait():
    meter = DataMeter(cap=100)
    assert meter.take(b"a" * 30, held=40) == b"a" * 30
    assert meter.take(b"b" * 30, held=40) == b""  # 60 > 40: held back
    assert meter.take(b"c" * 5, held=40) == b""  # behind what is held back, even though small
    assert meter.wants_more(40) == 25
    assert meter.flush() == b"b" * 30 + b"c" * 5
    assert meter.wants_more(65) == 0


def test_the_holding_never_asks_beyond_the_cap():
    meter = DataMeter(cap=50)
    assert meter.take(b"x" * 80, held=20) == b""
    assert meter.wants_more(20) == 30  # up to the cap, not to the 80 received
    assert meter.flush() == b"x" * 80
    assert meter.take(b"y" * 10, held=50) == b"y" * 10  # at the cap everything goes on (aiosmtpd drops the excess)
    assert meter.wants_more(50) == 0


# (chunks taken before the refusal, each with what of it goes on at once), then (chunks after it, each with what
# discard returns: None while the client's end of data has not come, then what follows it)
REFUSED_TRANSFERS = [
    pytest.param([(b"line one\r\nline tw", b"line one\r\nline tw"), (b"o\r\nmore", b"")],
                 [(b" text\r\n.", None), (b"\r", None), (b"\nRSET\r\n", b"RSET\r\n")],
                 id="the-end-of-data-split-over-three-chunks"),
    pytest.param([(b"x" * 30, b"")], [(b"a.\r\n..\r\n.x\r\n", None), (b".\r\n", b"")],
                 id="a-dot-inside-a-line-or-a-stuffed-dot-is-no-end"),
    pytest.param([], [(b".\r\nQUIT\r\n", b"QUIT\r\n")], id="an-empty-message-ends-at-its-first-line"),
]


@pytest.mark.parametrize(("taken", "after"), REFUSED_TRANSFERS)
def test_a_refused_transfer_is_dropped_up_to_the_clients_end_of_data(
    taken: list[tuple[bytes, bytes]], after: list[tuple[bytes, bytes | None]]
) -> None:
    meter = DataMeter(cap=1000)
    for chunk, goes_on in taken:
        assert meter.take(chunk, held=20) == goes_on
    assert meter.refuse() is None  # what was pending is scanned first: no end of data in it
    for chunk, rest in after:
        assert meter.discard(chunk) == rest
    assert not meter.discarding


async def test_a_transfer_in_progress_grows_before_a_new_one_is_admitted():
    budget = MemoryBudget(100)
    growing, other = Holding(), Holding()
    assert await budget.reserve_within(50, 0)
    growing.held = 50
    assert await budget.reserve_within(50, 0)
    other.held = 50
    order: list[str] = []

    async def admit() -> None:
        assert await budget.reserve_within(10, 30)
        order.append("admitted")

    async def grow() -> None:
        assert await budget.grow(growing, 10, 30)
        order.append("grown")

    new = asyncio.ensure_future(admit())
    await asyncio.sleep(0)
    step = asyncio.ensure_future(grow())
    await asyncio.sleep(0)
    assert not new.done() and not step.done() and budget.stalled == 50
    budget.release_holding(other)
    await asyncio.gather(new, step)
    assert order == ["grown", "admitted"] and growing.held == 60 and budget.reserved == 70 and budget.stalled == 0


async def test_when_every_holder_waits_to_grow_the_last_to_ask_is_refused_and_the_first_goes_on():
    budget = MemoryBudget(100)
    first, second = Holding(50), Holding(50)
    assert budget.reserve(50) and budget.reserve(50)
    one = asyncio.ensure_future(budget.grow(first, 30, 600))
    await asyncio.sleep(0)
    assert not one.done()  # the second may still finish and release
    two = asyncio.ensure_future(budget.grow(second, 30, 600))
    assert await two is False  # at once, not after 600 s: nothing could ever be released
    assert second.held == 0
    assert await one is True and first.held == 80
    assert budget.reserved == 80 and budget.stalled == 0 and budget.refused_growths == 1


async def _times_out(budget: MemoryBudget, holding: Holding) -> None:
    assert await budget.grow(holding, 10, 0.05) is False  # the busy one did not finish in time


async def _goes_away(budget: MemoryBudget, holding: Holding) -> None:
    task = asyncio.ensure_future(budget.grow(holding, 10, 600))
    await asyncio.sleep(0)
    budget.release_holding(holding)  # the session's cleanup may run before the cancelled wait unwinds
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


@pytest.mark.parametrize("end", [_times_out, _goes_away], ids=["timed-out", "session-gone"])
async def test_a_growth_that_ends_unanswered_leaves_only_the_others_holding(
    end: Callable[[MemoryBudget, Holding], Awaitable[None]]
) -> None:
    budget = MemoryBudget(100)
    waiting, busy = Holding(40), Holding(60)
    assert budget.reserve(40) and budget.reserve(60)
    await end(budget, waiting)
    assert waiting.held == 0 and budget.reserved == busy.held == 60 and budget.stalled == 0
    budget.release_holding(busy)
    assert budget.reserved == 0


async def test_the_only_transfer_grows_beyond_a_budget_smaller_than_its_message():
    budget = MemoryBudget(100)
    alone = Holding(100)
    assert budget.reserve(100)
    assert await budget.grow(alone, 100, 0)
    assert alone.held == 200 and budget.peak == 200
