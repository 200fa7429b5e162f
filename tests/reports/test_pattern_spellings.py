"""Patterns respelt for speed match exactly what their first spelling matched: same spans, same groups, from any offset."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from maild.core.syntax import STATUS_CODE
from maild.reports import bounce, dsn

# (the pattern as the parser has it, the spelling it replaced: a lookbehind before the class it guards)
_RESPELT = [
    (bounce._REPLY_CODE.compiled(), r"(?<![\d.])([245])[0-5]\d(?=[ -]|$)"),
    (dsn._REPLY_STATUS.compiled(), r"(?<!\d)([245])\d\d[ -]['\"(#]?([245])\.(\d{1,3})\.(\d{1,3})(?![\d.]*\d)"),
    (STATUS_CODE, r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.]*\d)"),
]


def _texts(corpus: Path) -> list[str]:
    texts = [p.read_bytes().decode("utf-8", "replace")[:60000] for p in sorted(corpus.rglob("*")) if p.is_file()]
    rnd = random.Random(7)  # digits, dots, dashes and spaces in every order: the lookbehinds' edge cases
    texts += ["".join(rnd.choice("2455.0 -1x\n3.'(") for _ in range(rnd.randint(0, 30))) for _ in range(20000)]
    return texts


@pytest.mark.parametrize(("pattern", "first"), _RESPELT, ids=["reply code", "reply and status", "status code"])
def test_a_respelt_pattern_matches_as_its_first_spelling(pattern: re.Pattern[str], first: str, corpus: Path) -> None:
    reference = re.compile(first)
    matched = 0
    for text in _texts(corpus):
        ours = [(m.span(), m.groups()) for m in pattern.finditer(text)]
        assert ours == [(m.span(), m.groups()) for m in reference.finditer(text)], text[:200]
        matched += bool(ours)
        for pos in (1, 3):
            a, b = pattern.search(text, pos), reference.search(text, pos)
            assert (a and (a.span(), a.groups())) == (b and (b.span(), b.groups()))
        assert bool(pattern.fullmatch(text)) == bool(reference.fullmatch(text))
    assert matched > 100, "the texts must hold codes, or the comparison checks nothing"
