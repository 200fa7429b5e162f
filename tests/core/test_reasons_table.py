"""maild.core.reasons: a stored reason name finds its row; names maild does not know find none (never raise)."""

from __future__ import annotations

import pytest

from maild.core.reasons import HARD_REASONS, REASON_TABLE, Reason, in_words, info, is_hard


def test_every_reason_name_finds_its_own_row() -> None:
    for reason in Reason:
        row = info(str(reason))
        assert row is not None and row.reason is reason and row == REASON_TABLE[reason]


def test_unknown_names_find_no_row() -> None:
    for name in ("", "nonsense", "rejected?", "USERUNKNOWN "):
        assert info(name) is None
    assert info("userunknown") is not None and info("userunknown").hard is True  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("reason", "status", "expected"),
    [
        ("mailboxfull", "4.2.2", "mailbox full — temporary"),
        ("mailboxfull", "5.2.2", "mailbox full — temporary"),
        ("userunknown", "5.1.1", "address does not exist — permanent"),
        ("userunknown", "4.1.1", "address does not exist — temporary"),
        ("spamdetected", "5.7.1", "blocked by the recipient's spam policy — the address may be fine"),
        ("not-a-reason", "5.0.0", "not-a-reason"),
        (None, "5.0.0", None),
    ],
)
def test_reasons_in_a_helpdesks_words(reason, status, expected):
    assert in_words(reason, status) == expected


@pytest.mark.parametrize("reason", sorted(HARD_REASONS))
def test_a_hard_reason_is_hard_under_a_permanent_or_absent_code_and_never_under_a_temporary_one(reason: str) -> None:
    r = Reason(reason)
    assert (is_hard(r, "5.1.1"), is_hard(r, None), is_hard(r, "")) == (True, True, True)
    assert (is_hard(r, "4.2.2"), is_hard(r, "4.0.0")) == (False, False)  # a 4.x.x is never the address's fault


@pytest.mark.parametrize("reason", sorted(set(REASON_TABLE) - HARD_REASONS))
def test_a_soft_reason_is_never_hard(reason: str) -> None:
    assert not any(is_hard(Reason(reason), s) for s in ("5.1.1", "4.2.2", None))
