"""Admission of SMTP sessions: total, per-client and untrusted caps, a per-client connection rate, and the descriptor budget.

Postfix's anvil is the model: a session beyond a cap is answered
`421 4.7.0` and closed before the greeting, so an idle flood from one address
(or from many) can hold only a bounded number of sockets and never starves
the helpdesk's own MTA, the HTTP listener or the store of file descriptors.
Clients from `intake.allowed_networks` are exempt from the per-client and rate
limits (Postfix's `smtpd_client_event_limit_exceptions = $mynetworks`) and
have their share of the total reserved from untrusted clients.
"""

from __future__ import annotations

import asyncio
import os
import resource
import socket
from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class Refusal(StrEnum):
    """Why a session was refused; the value is the metrics and log reason."""

    TOTAL = "session_limit"
    UNTRUSTED = "untrusted_session_limit"
    PER_CLIENT = "client_session_limit"
    RATE = "client_rate_limit"


REPLY = {
    Refusal.TOTAL: "421 4.7.0 Too many connections, try again later",
    Refusal.UNTRUSTED: "421 4.7.0 Too many connections, try again later",
    Refusal.PER_CLIENT: "421 4.7.0 Too many connections from your address, try again later",
    Refusal.RATE: "421 4.7.0 Too many connections from your address in a minute, try again later",
}

RATE_WINDOW = 60.0


@dataclass(frozen=True)
class SessionLimits:
    """The caps in force; `max_sessions` is already reduced to what the descriptor budget allows."""

    max_sessions: int
    max_untrusted: int
    per_client: int
    rate_per_minute: int  # 0: no rate limit


class Gate:
    """Counts live sessions per client; pure apart from the `now` passed in (monotonic seconds)."""

    def __init__(self, limits: SessionLimits) -> None:
        self.limits = limits
        self.total = 0
        self.untrusted = 0
        self._by_client: dict[str, int] = {}
        self._recent: dict[str, deque[float]] = {}

    def admit(self, client: str, *, trusted: bool, now: float) -> Refusal | None:
        """Count the session in and return None, or return why it is refused (then nothing is counted)."""
        lim = self.limits
        if self.total >= lim.max_sessions:
            return Refusal.TOTAL
        if not trusted:
            if self.untrusted >= lim.max_untrusted:
                return Refusal.UNTRUSTED
            if self._by_client.get(client, 0) >= lim.per_client:
                return Refusal.PER_CLIENT
            if lim.rate_per_minute:
                recent = self._recent.setdefault(client, deque())
                while recent and recent[0] <= now - RATE_WINDOW:
                    recent.popleft()
                if len(recent) >= lim.rate_per_minute:
                    return Refusal.RATE
                recent.append(now)
            self.untrusted += 1
            self._by_client[client] = self._by_client.get(client, 0) + 1
        self.total += 1
        return None

    def release(self, client: str, *, trusted: bool) -> None:
        self.total -= 1
        if trusted:
            return
        self.untrusted -= 1
        left = self._by_client.get(client, 1) - 1
        if left > 0:
            self._by_client[client] = left
        else:
            self._by_client.pop(client, None)
            recent = self._recent.get(client)
            if recent is not None and not recent:
                del self._recent[client]

    def forget_old(self, now: float) -> None:
        """Drop rate windows of clients with no connection in the last minute (bounded memory under a spoofed flood)."""
        for client in [c for c, q in self._recent.items() if not q or q[-1] <= now - RATE_WINDOW]:
            del self._recent[client]


# ------------------------------------------------------------------ descriptors


@dataclass(frozen=True)
class DescriptorBudget:
    soft: int
    hard: int
    reserve: int

    @property
    def sessions(self) -> int:
        """Sessions the soft limit leaves room for after the reserve (HTTP, store, upstream, accept bursts)."""
        return max(1, self.soft - self.reserve)


def raise_descriptor_limit() -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE to the hard limit (as systemd's LimitNOFILE allows) and return (soft, hard)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        target = max(soft, 65536) if soft != resource.RLIM_INFINITY else soft
    else:
        target = hard
    if target != soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft, hard


class _HasFileno(Protocol):
    def fileno(self) -> int: ...


def widen_backlog(sock: _HasFileno, backlog: int) -> None:
    """listen() again with a longer queue; asyncio accepts at most its own `backlog` per loop turn.

    Keeping asyncio's batch small bounds how many descriptors one turn can take,
    while the kernel queue absorbs a burst (capped by net.core.somaxconn).
    """
    dup = socket.socket(fileno=os.dup(sock.fileno()))
    try:
        dup.listen(backlog)
    finally:
        dup.close()


# ------------------------------------------------------------------ memory


# What a DATA without SIZE= reserves before 354, and then step by step as its bytes arrive (capped at
# max_message_size): twenty ordinary 10 KB replies fit a 128 MB budget at once instead of three.
DATA_STEP = 1024 * 1024


@dataclass(eq=False, slots=True)
class Holding:
    """The bytes of the budget one transfer holds now; the budget updates it when it grants or takes back."""

    held: int = 0


@dataclass(eq=False, slots=True)
class _Growth:
    size: int
    holding: Holding
    granted: asyncio.Future[bool]


class MemoryBudget:
    """Bytes of message data that DATA transfers may hold at once; a transfer reserves before 354.

    A client that declared SIZE= reserves that size; one that did not reserves a first step and grows its
    holding step by step as its bytes arrive (`grow`). A transfer that does not fit waits (bounded) for others
    rather than being refused at once. Waiters are served first come, first served, transfers in progress
    (growing) before new ones: a release hands its bytes to the waiters at the head of the queue that now fit,
    instead of waking every waiter to race for them. When every byte reserved is held by transfers that are
    themselves waiting to grow, nothing would ever be released: the last of them to ask is refused at once and
    its holding taken back, so the others go on (a flood of big transfers gets 452s, never a standstill).
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.reserved = 0
        self.peak = 0
        self.refused_growths = 0
        self._waiters: deque[tuple[int, asyncio.Future[bool]]] = deque()
        self._growers: deque[_Growth] = deque()

    @property
    def stalled(self) -> int:
        """Bytes held by transfers waiting in `grow`, summed from their queue (so never out of step with it)."""
        return sum(entry.holding.held for entry in self._growers)

    def _fits(self, size: int, held: int = 0) -> bool:
        # a transfer holding all that is reserved always fits: a budget below one message must not refuse them all
        return self.reserved == held or self.reserved + size <= self.limit

    def _take(self, size: int) -> None:
        self.reserved += size
        self.peak = max(self.peak, self.reserved)

    def reserve(self, size: int) -> bool:
        if not self._fits(size):
            return False
        self._take(size)
        return True

    async def reserve_within(self, size: int, wait: float) -> bool:
        """Reserve `size`, waiting up to `wait` seconds for transfers in progress to release theirs."""
        if not self._waiters and not self._growers and self.reserve(size):
            return True
        if wait <= 0:
            return False
        loop = asyncio.get_running_loop()
        granted: asyncio.Future[bool] = loop.create_future()
        entry = (size, granted)
        self._waiters.append(entry)
        timer = loop.call_later(wait, self._expire, entry)
        try:
            return await granted
        except asyncio.CancelledError:  # the session went away while waiting, or just after being granted
            if granted.done() and not granted.cancelled() and granted.result():
                self.release(size)
            raise
        finally:
            timer.cancel()
            if entry in self._waiters:
                self._waiters.remove(entry)
                self._grant()  # it may have been the head that kept smaller ones behind it waiting

    async def grow(self, holding: Holding, size: int, wait: float) -> bool:
        """`size` more bytes for a transfer in progress; False (its holding taken back) after `wait` or a refusal.

        The caller still owns what `holding` says it holds when this returns or is cancelled (release_holding).
        """
        if not self._growers and self._fits(size, holding.held):
            self._take(size)
            holding.held += size
            return True
        loop = asyncio.get_running_loop()
        entry = _Growth(size, holding, loop.create_future())
        self._growers.append(entry)
        timer = loop.call_later(max(wait, 0.0), self._settle_growth, entry, False)
        try:
            self._grant()  # the request itself may be what stalls every transfer
            return await entry.granted
        finally:
            timer.cancel()
            if entry in self._growers:  # cancelled while waiting
                self._growers.remove(entry)
                self._grant()

    def _settle_growth(self, entry: _Growth, ok: bool) -> None:
        if entry.granted.done() or entry not in self._growers:
            return
        self._growers.remove(entry)
        holding = entry.holding
        if ok:
            self._take(entry.size)
            holding.held += entry.size
        else:
            self.reserved = max(0, self.reserved - holding.held)
            holding.held = 0
        entry.granted.set_result(ok)
        if not ok:
            self._grant()

    def _expire(self, entry: tuple[int, asyncio.Future[bool]]) -> None:
        if not entry[1].done():
            entry[1].set_result(False)

    def _grant(self) -> None:
        while self._growers:
            head = self._growers[0]
            if head.granted.done():  # cancelled: its own finally takes it out
                return
            if self._fits(head.size, head.holding.held):
                self._settle_growth(head, True)
                continue
            if self.reserved <= self.stalled:  # all reserved is held by waiters: nobody will release anything
                self.refused_growths += 1
                self._settle_growth(self._growers[-1], False)
                return  # _settle_growth ran _grant again with the bytes taken back
            return  # a transfer not waiting will finish (or time out) and release
        while self._waiters:
            size, granted = self._waiters[0]
            if granted.done():  # timed out or cancelled: no longer waiting
                self._waiters.popleft()
                continue
            if not self._fits(size):
                return
            self._waiters.popleft()
            self._take(size)
            granted.set_result(True)

    def release(self, size: int) -> None:
        self.reserved = max(0, self.reserved - size)
        self._grant()

    def release_holding(self, holding: Holding, keep: int = 0) -> None:
        """Give back what `holding` holds beyond `keep` bytes; with keep=0 the transfer is over, growth requests too."""
        if not keep:
            for entry in [e for e in self._growers if e.holding is holding]:  # its wait may unwind only later
                self._growers.remove(entry)
                if not entry.granted.done():
                    entry.granted.set_result(False)
        if holding.held > keep:
            give, holding.held = holding.held - keep, keep
            self.release(give)
        elif not keep:
            self._grant()


def declared_size(mail_options: list[str]) -> int | None:
    """The SIZE= a client declared in MAIL FROM (RFC 1870), or None."""
    for option in mail_options:
        key, _, value = option.partition("=")
        if key.upper() == "SIZE" and value.isdigit():
            return int(value)
    return None


@dataclass(frozen=True, slots=True)
class HeaderCheck:
    too_big: bool
    size: int
    lines: int


def header_check(raw: bytes, max_bytes: int, max_lines: int) -> HeaderCheck:
    """Whether the header section exceeds the limits (Postfix's header_size_limit, per message); bounded work."""
    end = raw.find(b"\r\n\r\n", 0, max_bytes + 4)
    if end >= 0:
        size = end + 2
    elif len(raw) > max_bytes:
        size = len(raw)  # no end of the header section within the limit: all of it counts as header
    else:
        size = len(raw)  # a message of headers only
    lines = raw.count(b"\n", 0, min(size, max_bytes + 1))
    return HeaderCheck(size > max_bytes or lines > max_lines, size, lines)
