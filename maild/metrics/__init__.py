"""Observability: the Prometheus export of each part's declared stats and the store (`export`), and the one /healthz (`health`).

The daemon builds one registry with `build_registry(...)` and routes
`/metrics` to `metrics_handler(registry)` and `/healthz` to
`healthz_handler(probe)`, where `health()` is the pure decision.
"""

from __future__ import annotations

from maild.metrics.export import (
    CONTENT_TYPE,
    MaildRegistry,
    StatsCollector,
    StoreCollector,
    build_registry,
    metrics_handler,
)
from maild.metrics.health import (
    Health,
    HealthProbe,
    HealthStatus,
    health,
    healthz_handler,
)
from maild.metrics.snapshot import StoreSnapshot, read_snapshot, safe_url, source_label

__all__ = [
    "CONTENT_TYPE",
    "Health",
    "HealthProbe",
    "HealthStatus",
    "MaildRegistry",
    "StatsCollector",
    "StoreCollector",
    "StoreSnapshot",
    "build_registry",
    "health",
    "healthz_handler",
    "metrics_handler",
    "read_snapshot",
    "safe_url",
    "source_label",
]
