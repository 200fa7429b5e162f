"""The one exponential backoff: delivery retries, webhook and write-back retries, source reconnects."""

from __future__ import annotations

import random
from collections.abc import Callable


def backoff(attempt: int, first: float, cap: float, *, jitter: Callable[[], float] | None = None) -> float:
    """Seconds to wait after the n-th failure (1-based): first, 2*first, 4*first... capped at `cap` (like Postfix).

    With `jitter` (a callable returning a factor, e.g. ``full_jitter``) the delay is scaled by it, so that many
    clients that failed together do not come back together. 0 attempts wait 0.
    """
    if attempt < 1:
        return 0.0
    delay = min(first * 2.0 ** min(attempt - 1, 60), max(cap, first))
    return delay * jitter() if jitter is not None else delay


def half_jitter() -> float:
    """A factor between 0.5 and 1: the delay stays at least half of the nominal one."""
    return random.uniform(0.5, 1.0)
