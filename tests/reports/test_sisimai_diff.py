"""The differential tool against Sisimai 4.25: its comparison (pure) and one real run on a real Exim notice."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.sisimai_diff import Answer, compare, run, sisimai_available

DATA = Path(__file__).resolve().parents[1] / "data" / "lhost"


def test_every_kind_of_difference_is_listed_with_both_answers() -> None:
    ours = {"a@x.example": Answer("failed", "5.1.1", "userunknown"), "b@x.example": Answer("delayed", "4.2.2", "mailboxfull")}
    theirs = {"a@x.example": Answer("failed", "5.7.1", "filtered"), "c@x.example": Answer("failed", "5.0.0", "onhold")}
    found = {(d.address, d.field, d.maild, d.sisimai) for d in compare("f.eml", ours, theirs)}
    assert found == {
        ("a@x.example", "status", "5.1.1", "5.7.1"),
        ("a@x.example", "reason", "userunknown", "filtered"),
        ("b@x.example", "recipient", "reported", None),
        ("c@x.example", "recipient", None, "reported"),
    }


def test_invented_codes_and_unknown_actions_are_not_differences() -> None:
    # Sisimai writes X.0.9NN when a notice has no code and leaves the action empty when it does not know.
    ours = {"a@x.example": Answer("failed", "5.1.1", "userunknown")}
    theirs = {"a@x.example": Answer(None, "5.0.911", "userunknown")}
    assert compare("f.eml", ours, theirs) == []


def test_sisimai_and_maild_agree_on_the_recipient_of_a_real_exim_bounce() -> None:
    if not sisimai_available():  # a failure where the run must be complete (tests/support/skip_policy.py)
        pytest.skip("Sisimai is not installed (apt-get install libsisimai-perl)")
    count, found = run([DATA / "exim-real-unknown.eml"])
    assert count == 1
    assert [d for d in found if d.field in ("recipient", "action")] == []
