"""Which address a DSN reports, and blocks on us never read as a bad address even under a 5.1.1."""

from __future__ import annotations

import pytest

from maild.core.reason_rules import reason_for
from maild.reports.dsn import recipient_from_fields


@pytest.mark.parametrize(
    ("final", "original", "expected"),
    [
        # The site forwarded to its own mailbox host: the sender wrote the original.
        ("rfc822;HAASM@yogi.urz.unibas.ch", "rfc822;max.haas@unibas.ch", "max.haas@unibas.ch"),
        # An alias to another domain, or the same mailbox: Final-Recipient is where delivery failed.
        ("rfc822;neko@libsisimai.org", "rfc822;azuma@mac.example.com", "neko@libsisimai.org"),
        ("rfc822;a@example.jp", "rfc822;a@cat.example.jp", "a@example.jp"),
        ("rfc822;a@example.org", None, "a@example.org"),
    ],
)
def test_dsn_recipient_is_the_original_only_for_an_internal_forward(final: str, original: str | None, expected: str) -> None:
    fields = {"final-recipient": final, "action": "failed", "status": "5.1.1"}
    if original:
        fields["original-recipient"] = original
    assert recipient_from_fields(fields).address == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("550 5.1.1 Message rejected: SPF check failed for sender domain", "authfailure"),
        ("550 5.1.1 Message rejected: infected with a virus", "virusdetected"),
        ("550 5.1.1 Client host has no PTR record", "requireptr"),
    ],
)
def test_a_block_on_us_under_5_1_1_is_never_a_hard_bad_address(text: str, reason: str) -> None:
    assert reason_for("5.1.1", text.lower()) == (reason, False)
