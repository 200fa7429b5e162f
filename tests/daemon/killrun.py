"""kill -9 of a real `maild run` while clients are sending, then a restart: the crash tests' shared shape.

Clients send on several threads; a message answered 250 is promised, one refused or cut by the kill is not (its
client would retry). Once enough are promised maild is killed while the others are still sending; after it is
started again every promised copy must reach the upstream.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from tests.daemon.conftest import MaildProcess, Sink, wait_for


class Accepted:
    """The numbers of the messages answered 250 so far, added to from the sending threads."""

    def __init__(self, enough: int) -> None:
        self._lock = threading.Lock()
        self._numbers: set[int] = set()
        self._wanted = enough
        self.enough = threading.Event()  # set once `enough` messages are in

    def add(self, number: int) -> None:
        with self._lock:
            self._numbers.add(number)
            if len(self._numbers) >= self._wanted:
                self.enough.set()

    def numbers(self) -> set[int]:
        with self._lock:
            return set(self._numbers)


def kill_9_while_sending(maild: MaildProcess, send: Callable[[int, Accepted], None], jobs: int, *,
                         workers: int, enough: int, wait: float, what: str) -> set[int]:
    """`send(job, accepted)` for each job on `workers` threads; kill -9 once `enough` messages are accepted.

    Every sender is let finish after the kill (its errors raise here); returns the numbers accepted. `what` is
    the failure when fewer than `enough` are accepted within `wait` seconds.
    """
    accepted = Accepted(enough)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(send, job, accepted) for job in range(jobs)]
        assert accepted.enough.wait(wait), what
        maild.kill9()
        for f in futures:
            f.result()
    return accepted.numbers()


def restart_delivers(maild: MaildProcess, sink: Sink, promised: set[tuple[str, str]], what: str) -> None:
    """Start maild again: every promised (Message-ID, recipient) copy reaches the upstream; then a clean stop."""
    maild.start()
    wait_for(lambda: promised <= sink.pairs(), timeout=120, what=what)
    assert maild.terminate() == 0
