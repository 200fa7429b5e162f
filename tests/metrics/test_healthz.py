"""/healthz's decision as a pure function: ready or not, and why."""

from __future__ import annotations

import pytest

from maild.metrics import HealthProbe, HealthStatus, health, safe_url

UP = {"smtp 127.0.0.1:10025": True}

CASES = [
    # (name, probe, status, problems)
    ("all_up", HealthProbe(True, UP, {"imap": True}), HealthStatus.OK, ()),
    ("no_sources_configured", HealthProbe(True, UP), HealthStatus.OK, ()),
    ("store_closed", HealthProbe(False, UP), HealthStatus.UNAVAILABLE, ("store not open",)),
    (
        "listener_not_bound",
        HealthProbe(True, {"smtp 127.0.0.1:10025": True, "smtps 127.0.0.1:10465": False}),
        HealthStatus.UNAVAILABLE,
        ("listener not bound: smtps 127.0.0.1:10465",),
    ),
    ("no_listener_at_all", HealthProbe(True, {}), HealthStatus.UNAVAILABLE, ("no listener bound",)),
    (
        "source_down_only_degrades",
        HealthProbe(True, UP, {"imaps://receipts:pw@127.0.0.1:993/INBOX": False, "maildir": True}),
        HealthStatus.DEGRADED,
        ("source not connected: imaps://127.0.0.1:993/INBOX",),
    ),
    (
        "everything_wrong_lists_every_reason",
        HealthProbe(False, {"smtp 127.0.0.1:10025": False}, {"imap": False}, stopping=True),
        HealthStatus.UNAVAILABLE,
        ("stopping", "store not open", "listener not bound: smtp 127.0.0.1:10025", "source not connected: imap"),
    ),
    ("stopping_is_not_ready", HealthProbe(True, UP, stopping=True), HealthStatus.UNAVAILABLE, ("stopping",)),
]


@pytest.mark.parametrize(("probe", "status", "problems"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_health_decision(probe: HealthProbe, status: HealthStatus, problems: tuple[str, ...]) -> None:
    result = health(probe)
    assert result.status is status
    assert result.problems == problems
    assert result.http_status == (503 if status is HealthStatus.UNAVAILABLE else 200)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hook.example/x?token=abc", "https://hook.example/x"),
        ("imaps://user:pw@127.0.0.1:993/INBOX", "imaps://127.0.0.1:993/INBOX"),
        ("http://[::1]:8080/p#frag", "http://::1:8080/p"),
        ("lmtp://127.0.0.1:10024", "lmtp://127.0.0.1:10024"),
    ],
)
def test_urls_in_labels_lose_credentials_and_query(url: str, shown: str) -> None:
    assert safe_url(url) == shown
