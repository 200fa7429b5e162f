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

from maild.core import recache

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)
if TYPE_CHECKING:
    from typing import Any

if TYPE_CHECKING:  # prefilter loads when a pattern's literals are first derived: a command that only prints needs none
    from maild.core.prefilter import Alternatives, Literals

_DERIVE_ON_USE = 4  # the pre-check literals are derived on this many-th call of literals()


class LazyPattern:
    """re.compile(pattern, flags), done on the first search (core.recache's kept code when it has it); `pattern`
    and `flags` as on re.Pattern."""

    __slots__ = ("pattern", "flags", "_compiled", "_literals", "_uses", "_said")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.pattern = pattern
        self.flags = flags
        self._compiled: re.Pattern[str] | None = None
        self._literals: Literals | None = None
        self._uses = 0
        self._said: Alternatives | None = None

    def compiled(self) -> re.Pattern[str]:
        if self._compiled is None:
            self._compiled = recache.compile(self.pattern, self.flags)
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
        return (self._compiled or self.compiled()).search(string, pos, endpos)

    def found_in(self, string: str) -> bool:
        """``self.search(string) is not None``; for a re.I pattern tried one top-level alternative at a time behind
        its words (core.prefilter.Alternatives): under re.I the engine cannot skip ahead to a literal, and a
        pattern of several alternatives was tried at every offset (0.3 ms over a notice's first 5,000 characters)."""
        if not self.flags & re.IGNORECASE:
            return self.search(string) is not None
        said = self._said
        if said is None:
            from maild.core.prefilter import Alternatives

            said = self._said = Alternatives(self)
        return said.found_in(string)

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
