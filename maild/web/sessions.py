"""Panel sessions in memory: random ids, idle expiry, a CSRF token per session, and slowed-down failed logins.

Pure over `now` (seconds, monotonic): the routes pass the clock in. Sessions live as long as
the process; a restart logs everyone out, which is the safe direction.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field

from maild.web.users import Role


@dataclass(slots=True)
class Session:
    id: str
    user: str
    role: Role
    csrf: str
    last_seen: float


@dataclass
class Sessions:
    idle: float  # seconds without a request before a session ends
    _by_id: dict[str, Session] = field(default_factory=dict)

    def create(self, user: str, role: Role, now: float) -> Session:
        self._expire(now)
        session = Session(secrets.token_urlsafe(32), user, role, secrets.token_urlsafe(32), now)
        self._by_id[session.id] = session
        return session

    def get(self, session_id: str | None, now: float) -> Session | None:
        """The live session of this cookie value, touched; None for an unknown or idle-expired one."""
        if not session_id:
            return None
        session = self._by_id.get(session_id)
        if session is None:
            return None
        if now - session.last_seen > self.idle:
            del self._by_id[session_id]
            return None
        session.last_seen = now
        return session

    def end(self, session_id: str) -> None:
        self._by_id.pop(session_id, None)

    def end_user(self, user: str) -> None:
        for sid in [s.id for s in self._by_id.values() if s.user == user]:
            del self._by_id[sid]

    def _expire(self, now: float) -> None:
        for sid in [s.id for s in self._by_id.values() if now - s.last_seen > self.idle]:
            del self._by_id[sid]


def csrf_ok(session: Session, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(session.csrf.encode(), (given or "").encode())


@dataclass
class LoginThrottle:
    """Failed logins per user name and per client address: each failure doubles the wait, up to `ceiling`.

    A success clears the user's and the address's record. The wait is enforced by refusing
    attempts until it has passed (answered without checking the password), never by sleeping.
    """

    base: float = 1.0
    ceiling: float = 300.0
    free_failures: int = 3  # failures allowed before any wait
    _failures: dict[str, tuple[int, float]] = field(default_factory=dict)  # key -> (count, last failure)

    def wait(self, user: str, address: str, now: float) -> float:
        """Seconds until an attempt for this user from this address may be checked (0: now)."""
        return max(self._wait(f"u:{user.casefold()}", now), self._wait(f"a:{address}", now))

    def _wait(self, key: str, now: float) -> float:
        count, last = self._failures.get(key, (0, 0.0))
        if count < self.free_failures:
            return 0.0
        delay = min(self.ceiling, self.base * 2.0 ** (count - self.free_failures))
        return max(0.0, last + delay - now)

    def failed(self, user: str, address: str, now: float) -> None:
        for key in (f"u:{user.casefold()}", f"a:{address}"):
            count, _ = self._failures.get(key, (0, 0.0))
            self._failures[key] = (count + 1, now)
        if len(self._failures) > 100_000:  # bounded memory under a spray of names
            oldest = sorted(self._failures.items(), key=lambda kv: kv[1][1])[: len(self._failures) // 2]
            for key, _ in oldest:
                del self._failures[key]

    def succeeded(self, user: str, address: str) -> None:
        self._failures.pop(f"u:{user.casefold()}", None)
        self._failures.pop(f"a:{address}", None)
