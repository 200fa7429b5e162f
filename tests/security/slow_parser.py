"""A parse step that never ends, as a module-level function the parse worker (a fork server's child) imports by name."""

from __future__ import annotations

from maild.reports import ParseHints, Report


def never_returns(raw: bytes, hints: ParseHints) -> Report:
    while True:  # one step that checks no budget, as the stdlib's email parser on a huge MIME tree
        pass
