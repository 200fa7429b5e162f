"""Cutting the reason-rule search short where a status code decides never changes the reason it gives."""

from __future__ import annotations

from pathlib import Path

from maild.core import reason_rules
from tests.reports.test_prefilter import _texts


def test_the_cut_search_agrees_on_whether_the_text_names_a_yield(corpus: Path) -> None:
    checked = 0
    for text in _texts(corpus):
        for start in range(0, min(len(text), 12000), 3000):  # several windows: different sentences, different rules
            sample = " ".join(text[start:start + 4000].lower().split())
            full = reason_rules._text_reason(sample)
            for coded, among in reason_rules._YIELDS.items():
                cut = reason_rules._text_reason(sample, reason_rules._LAST_YIELD[coded])
                assert (cut in among) == (full in among), (coded, full, cut)
                checked += full in among
    assert checked, "some sample must name a reason a code yields to, or this checks nothing"
