"""maild.core.reasons: a stored reason name finds its row; names maild does not know find none (never raise)."""

from __future__ import annotations

from maild.core.reasons import REASON_TABLE, Reason, info


def test_every_reason_name_finds_its_own_row() -> None:
    for reason in Reason:
        row = info(str(reason))
        assert row is not None and row.reason is reason and row == REASON_TABLE[reason]


def test_unknown_names_find_no_row() -> None:
    for name in ("", "nonsense", "rejected?", "USERUNKNOWN "):
        assert info(name) is None
    assert info("userunknown") is not None and info("userunknown").hard is True  # type: ignore[union-attr]
