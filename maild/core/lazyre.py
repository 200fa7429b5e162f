"""Regexes compiled on their first use: a module's pattern table costs nothing until a message needs it.

Python compiles a regex in pure Python, and the parser's tables (the dialects' markers, the bounce
heuristics, the retry words) were most of what `maild parse` and `maild ingest` spent importing before
they read one byte of mail. A `LazyPattern` is written where `re.compile` was and behaves like it; its
literal pre-check (``core.prefilter``) is derived only once the pattern has been searched a few times,
because deriving it parses the pattern again, which pays off over many messages, not for one.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # prefilter loads when a pattern's literals are first derived: a command that only prints needs none
    from maild.core.prefilter import Literals

_DERIVE_ON_USE = 4  # the pre-check literals are derived on this many-th call of literals()
# search() checks the literals itself from this many-th search on: deriving them parses the pattern again (a
# fraction of a millisecond), which a pattern searched this often wins back; one searched a few times never pays it.
_GATE_ON_SEARCH = 32
_GATE_MAX_LITERALS = 16  # more substring tests than this cost more than they save


class LazyPattern:
    """re.compile(pattern, flags), done on the first search; `pattern` and `flags` as on re.Pattern."""

    __slots__ = ("pattern", "flags", "_compiled", "_literals", "_uses", "_searches", "_gate")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.pattern = pattern
        self.flags = flags
        self._compiled: re.Pattern[str] | None = None
        self._literals: Literals | None = None
        self._uses = 0
        self._searches = 0
        self._gate: tuple[str, ...] | None = None  # search()'s pre-check: None not derived yet, () none usable

    def compiled(self) -> re.Pattern[str]:
        if self._compiled is None:
            self._compiled = re.compile(self.pattern, self.flags)
        return self._compiled

    def literals(self) -> Literals | None:
        """The pattern's pre-check literals (see core.prefilter); None (search outright) until derived."""
        if self._uses < _DERIVE_ON_USE:
            self._uses += 1
            if self._uses < _DERIVE_ON_USE:
                return None
            from maild.core.prefilter import required_literals

            self._literals = required_literals(self.compiled())
        return self._literals

    def search(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        # A text that holds none of the literals every match contains cannot match: None without running the
        # engine, which tries a case-insensitive alternation at every offset (most texts a dialect or a heuristic
        # looks at are not the ones it is about). Exact: core.prefilter says why (lower-cased ASCII under re.I).
        gate = self._gate
        if gate is None:
            self._searches += 1
            if self._searches >= _GATE_ON_SEARCH:
                self._derive_gate()
        elif gate and pos == 0 and endpos == sys.maxsize and not self._may_hold(gate, string):
            return None
        return (self._compiled or self.compiled()).search(string, pos, endpos)

    def _derive_gate(self) -> None:
        from maild.core.prefilter import required_literals

        found = self._literals if self._uses >= _DERIVE_ON_USE else required_literals(self.compiled())
        self._gate = tuple(found) if found is not None and len(found) <= _GATE_MAX_LITERALS else ()

    def _may_hold(self, gate: tuple[str, ...], string: str) -> bool:
        if self.flags & re.IGNORECASE:
            if not string.isascii():  # re.I folds a few non-ASCII letters onto ASCII ones: search outright
                return True
            string = string.lower()
        for literal in gate:
            if literal in string:
                return True
        return False

    def match(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        return (self._compiled or self.compiled()).match(string, pos, endpos)

    def fullmatch(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        return (self._compiled or self.compiled()).fullmatch(string, pos, endpos)

    def finditer(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> Iterator[re.Match[str]]:
        return (self._compiled or self.compiled()).finditer(string, pos, endpos)

    def findall(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> list[Any]:
        return (self._compiled or self.compiled()).findall(string, pos, endpos)

    def sub(self, repl: str | Callable[[re.Match[str]], str], string: str, count: int = 0) -> str:
        return (self._compiled or self.compiled()).sub(repl, string, count)

    def split(self, string: str, maxsplit: int = 0) -> list[str | Any]:
        return (self._compiled or self.compiled()).split(string, maxsplit)


def lazy(pattern: str, flags: int = 0) -> LazyPattern:
    """Where `re.compile(pattern, flags)` would be: compiled on first use."""
    return LazyPattern(pattern, flags)
