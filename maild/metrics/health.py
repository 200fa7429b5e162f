"""Readiness: the one /healthz, a pure decision over what the daemon (or the API alone) knows of its parts."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from aiohttp import web

from maild.core.jsonvalue import to_json
from maild.metrics.snapshot import source_label


class HealthStatus(StrEnum):
    OK = "ok"  # everything up
    DEGRADED = "degraded"  # accepting mail, but a receipts source is down: receipts wait at their source
    UNAVAILABLE = "unavailable"  # cannot accept mail safely: store closed or a listener not bound


@dataclass(frozen=True, slots=True)
class HealthProbe:
    """What the daemon knows about its parts at one instant."""

    store_open: bool
    listeners: Mapping[str, bool] = field(default_factory=dict)  # "smtp 127.0.0.1:10025" -> bound
    sources: Mapping[str, bool] = field(default_factory=dict)  # receipts source -> connected
    stopping: bool = False
    store_trouble: str | None = None  # the store's last write failure of its own (full disk, lock), until a commit works
    unrecorded_outcomes: int = 0  # delivery outcomes waiting for the store (delivery paused)


@dataclass(frozen=True, slots=True)
class Health:
    """What /healthz answers (its JSON body through maild.core.jsonvalue, in this field order)."""

    status: HealthStatus
    ready: bool  # maild can accept mail: every status but unavailable
    problems: tuple[str, ...]

    @property
    def http_status(self) -> int:
        return 200 if self.ready else 503


def _health(status: HealthStatus, problems: tuple[str, ...]) -> Health:
    return Health(status, status is not HealthStatus.UNAVAILABLE, problems)


def health(probe: HealthProbe) -> Health:
    """Ready when maild can accept mail (store open, every listener bound, not stopping); a source down only degrades."""
    fatal: list[str] = []
    if probe.stopping:
        fatal.append("stopping")
    if not probe.store_open:
        fatal.append("store not open")
    if not probe.listeners:
        fatal.append("no listener bound")
    fatal += [f"listener not bound: {name}" for name, up in sorted(probe.listeners.items()) if not up]
    if probe.store_trouble:  # intake answers 451 and delivery is paused: not a state to route mail to
        fatal.append(f"store cannot write: {probe.store_trouble}")
    if probe.unrecorded_outcomes:
        fatal.append(f"delivery paused: {probe.unrecorded_outcomes} outcomes waiting for the store")
    down = [f"source not connected: {source_label(n)}" for n, up in sorted(probe.sources.items()) if not up]
    if fatal:
        return _health(HealthStatus.UNAVAILABLE, tuple(fatal + down))
    if down:
        return _health(HealthStatus.DEGRADED, tuple(down))
    return _health(HealthStatus.OK, ())


Probe = Callable[[], HealthProbe] | Callable[[], Awaitable[HealthProbe]]


def healthz_handler(probe: Probe) -> Callable[[web.Request], Awaitable[web.Response]]:
    """aiohttp handler for GET /healthz: 200 when ready (ok or degraded), 503 otherwise, with the reasons as JSON.

    `probe` may be a coroutine function (the API alone asks the store whether it answers).
    """

    async def handle(_request: web.Request) -> web.Response:
        try:
            answer = probe()
            result = health(await answer if inspect.isawaitable(answer) else answer)
        except Exception as exc:  # noqa: BLE001 - a broken probe is an answer too
            result = _health(HealthStatus.UNAVAILABLE, (f"probe failed: {type(exc).__name__}",))
        return web.json_response(to_json(result), status=result.http_status)

    return handle
