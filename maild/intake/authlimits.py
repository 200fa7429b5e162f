"""Limits on SMTP AUTH failures: per client address and per user name, in a sliding window.

A brute force meets three things: each failure is answered only after
`auth_failure_delay` (the session waits, the event loop does not); past
`max_auth_failures_per_client` failures in `auth_failure_window` that client
gets `454 4.7.0` for every AUTH, right or wrong; past
`max_auth_failures_per_user` failures for one user name, from anywhere, that
name is refused the same way until the window has passed. Pure bookkeeping,
with `now` passed in.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

LOCKED = "454 4.7.0 Too many authentication failures, try again later"


@dataclass
class FailureWindow:
    limit: int
    window: float
    _seen: dict[str, deque[float]] = field(default_factory=dict)

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._seen.get(key)
        if q is None:
            return deque()
        while q and q[0] <= now - self.window:
            q.popleft()
        if not q:
            del self._seen[key]
        return q

    def locked(self, key: str, now: float) -> bool:
        return self.limit > 0 and len(self._recent(key, now)) >= self.limit

    def fail(self, key: str, now: float) -> None:
        self._recent(key, now)
        self._seen.setdefault(key, deque()).append(now)
        if len(self._seen) > 100_000:  # a spoofed flood of names: keep memory bounded
            for k in [k for k, q in self._seen.items() if not q or q[-1] <= now - self.window]:
                del self._seen[k]


@dataclass
class AuthLimiter:
    per_client: FailureWindow
    per_user: FailureWindow

    def locked(self, client: str, user: str, now: float) -> bool:
        return self.per_client.locked(client, now) or self.per_user.locked(user, now)

    def fail(self, client: str, user: str, now: float) -> None:
        self.per_client.fail(client, now)
        self.per_user.fail(user, now)
