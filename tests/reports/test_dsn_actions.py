"""How a DSN recipient block's Action and Status are read (RFC 3464 section 2.3.3), field by field and through parse().

Why it matters: a "failed" recipient is final (bounced for ever) while "delayed" is still being retried, and the corpus
score counts failed and delayed together, so it cannot see a swap of the two."""

from __future__ import annotations

from pathlib import Path

import pytest

from maild.reports import parse
from maild.reports.dsn import action_of

DELAYED = (Path(__file__).resolve().parents[1] / "data" / "reports" / "dsn-delayed.eml").read_bytes()


@pytest.mark.parametrize(
    ("value", "status", "want"),
    [
        ("failed", "5.1.1", "failed"),
        ("delayed", "4.4.1", "delayed"),
        ("delivered", "2.0.0", "delivered"),
        ("relayed", "2.0.0", "relayed"),
        ("expanded", "2.0.0", "expanded"),
        # non-standard words seen in the wild
        ("deferred", "4.4.1", "delayed"),
        ("delay", None, "delayed"),
        ("failure", None, "failed"),
        ("fail", None, "failed"),
        ("bounced", None, "failed"),
        ("error", None, "failed"),
        ("deliverable", None, "delivered"),
        ("  Failed (permanent)", None, "failed"),
        ("DELAYED; will retry", None, "delayed"),
        ("Delivered,", None, "delivered"),
        # no usable Action: the status class decides
        (None, "4.4.1", "delayed"),
        (None, "5.1.1", "failed"),
        (None, "2.1.5", "delivered"),
        ("", "4.7.0", "delayed"),
        ("whatever", "4.2.2", "delayed"),
        ("whatever", "5.2.2", "failed"),
        (None, None, None),
        ("whatever", None, None),
    ],
)
def test_action_of(value: str | None, status: str | None, want: str | None) -> None:
    assert action_of(value, status) == want


def _delayed_dsn(action_line: str | None) -> bytes:
    raw = DELAYED.replace(b"Action: delayed\n", b"" if action_line is None else action_line.encode() + b"\n")
    assert raw != DELAYED or action_line == "Action: delayed"
    return raw


@pytest.mark.parametrize("action_line", [None, "Action: deferred", "Action: delayed", "action:DELAYED"])
def test_a_temporary_status_without_a_final_action_stays_delayed_and_soft(action_line: str | None) -> None:
    (r,) = parse(_delayed_dsn(action_line)).recipients
    assert (r.address, r.action, r.status, r.hard) == ("emil@example.org", "delayed", "4.4.1", False)


def test_a_permanent_status_without_action_is_failed() -> None:
    raw = _delayed_dsn(None).replace(b"Status: 4.4.1", b"Status: 5.1.1").replace(b"Connection timed out", b"550 5.1.1 user unknown")
    (r,) = parse(raw).recipients
    assert (r.action, r.status, r.hard) == ("failed", "5.1.1", True)
