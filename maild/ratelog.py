"""Repeating log events written once per interval per key, with how many occurred since the last line.

A flood (refused sessions, `accept()` out of descriptors) must not turn into a
flood of log lines: the first occurrence is logged at once, the rest of the
interval only counted, and the next line carries `repeated=N`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)
if TYPE_CHECKING:
    from typing import Any


class RateLog:
    """`emit(key, log_fn, event, **fields)`: log now, or count it when `key` was logged less than `interval` ago."""

    def __init__(self, interval: float = 10.0, clock: Callable[[], float] = time.monotonic, max_keys: int = 1000) -> None:
        self.interval = interval
        self.clock = clock
        self.max_keys = max_keys
        self._last: dict[Hashable, float] = {}
        self._suppressed: dict[Hashable, int] = {}

    def emit(self, key: Hashable, log_fn: Callable[..., Any], event: str, **fields: Any) -> bool:
        """Return True when a line was written."""
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return False
        if last is None and len(self._last) >= self.max_keys:
            self._forget(now)
        repeated = self._suppressed.pop(key, 0)
        self._last[key] = now
        if repeated:
            fields["repeated"] = repeated
        log_fn(event, **fields)
        return True

    def _forget(self, now: float) -> None:
        for key in [k for k, t in self._last.items() if now - t >= self.interval]:
            del self._last[key]
        if len(self._last) >= self.max_keys:  # all recent: drop the oldest half rather than grow
            for key in sorted(self._last, key=self._last.__getitem__)[: self.max_keys // 2]:
                del self._last[key]
