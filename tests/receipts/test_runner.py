"""The receipt sources' runner base: failed rounds back off and count, a good round resets, stop() ends the loop."""

from __future__ import annotations

import asyncio

import pytest

from maild.receipts.runner import Runner


class Flaky(Runner):
    """Fails its first `failing` rounds, then records a good one and stops itself."""

    first_backoff = 0.001
    max_backoff = 0.002

    def __init__(self, failing: int) -> None:
        super().__init__("flaky")
        self.failing = failing
        self.rounds = 0
        self.logged: list[tuple[str, float]] = []
        self.finished = 0
        self.failures_seen: list[int] = []

    async def round(self) -> float | None:
        self.rounds += 1
        self.failures_seen.append(self.stats.failures)
        if self.rounds <= self.failing:
            raise OSError(f"round {self.rounds} failed")
        self._stop.set()
        return None

    def log_failure(self, error: Exception, retry_in: float) -> None:
        self.logged.append((str(error), retry_in))

    async def finish_round(self) -> None:
        self.finished += 1


async def test_failed_rounds_are_retried_with_backoff_and_counted() -> None:
    runner = Flaky(failing=3)
    await asyncio.wait_for(runner.run(), 5)
    assert runner.rounds == 4 and runner.finished == 4
    assert runner.failures_seen == [0, 1, 2, 3]
    assert [text for text, _ in runner.logged] == ["round 1 failed", "round 2 failed", "round 3 failed"]
    assert all(0 < delay <= runner.max_backoff for _, delay in runner.logged)
    assert runner.stats.failures == 0  # the good round reset the count
    assert runner.stats.last_error == "OSError: round 3 failed"


async def test_a_source_that_must_not_retry_raises_out_of_run() -> None:
    runner = Flaky(failing=1)
    runner.retries = False
    with pytest.raises(OSError, match="round 1 failed"):
        await runner.run()
    assert runner.finished == 1 and runner.logged == []


class Poller(Runner):
    def __init__(self) -> None:
        super().__init__("poller")
        self.rounds = 0
        self.ran = asyncio.Event()

    async def round(self) -> float:
        self.rounds += 1
        self.ran.set()
        return 3600.0  # the next round only on wake() or never

    def log_failure(self, error: Exception, retry_in: float) -> None:
        raise AssertionError(error)


async def test_wake_starts_the_next_round_and_stop_ends_the_pause() -> None:
    runner = Poller()
    task = asyncio.ensure_future(runner.run())
    await asyncio.wait_for(runner.ran.wait(), 5)
    runner.ran.clear()
    runner.wake()
    await asyncio.wait_for(runner.ran.wait(), 5)
    await runner.stop()
    await asyncio.wait_for(task, 5)
    assert runner.rounds == 2
