"""Cheap substring pre-checks for costly regexes: the literals one of which every match must contain, read from the pattern itself."""

from __future__ import annotations

import re

from maild.core import recache

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from typing import Any, Protocol
else:
    from maild.core.hints import Protocol

# The regex parser's own modules (Python 3.11+): the parsed form is what the literals are read from. They are
# private, so they are typed Any here; a Python that changes them fails the prefilter tests, never silently.
_parser: Any = __import__("re._parser", fromlist=["_parser"])
C: Any = __import__("re._constants", fromlist=["_constants"])  # noqa: N816 - the opcode names

Literals = frozenset[str]


def required_literals(pattern: re.Pattern[str]) -> Literals | None:
    """Strings one of which occurs in every match (lower-case for re.I patterns); None when no such set is known.

    Derived from the parsed pattern, so it follows every edit of the pattern without a hand-kept keyword list.
    """
    return literals_of(pattern.pattern, pattern.flags)


def literals_of(source: str, flags: int = 0) -> Literals | None:
    """required_literals of ``re.compile(source, flags)``, read from the source without compiling it (a table of
    patterns gets its pre-checks, and only the patterns a text gets past them are ever compiled). Kept between
    runs by core.recache while this module is unchanged: reading them parses the pattern, as compiling it does."""
    return recache.literals(source, int(flags), _literals_of, __file__)


def _literals_of(source: str, flags: int) -> Literals | None:
    found = _of_sequence(_parser.parse(source, flags))
    if found is not None and flags & re.IGNORECASE:
        # Under re.I a few non-ASCII letters match ASCII ones (K, ſ, ı); only plain ASCII literals are safe to lower.
        found = frozenset(s.lower() for s in found) if all(s.isascii() for s in found) else None
    # A literal that contains another one adds nothing to the check.
    return None if found is None else frozenset(s for s in found if not any(o != s and o in s for o in found))


def might_match(literals: Literals | None, text: str) -> bool:
    """False only when the text holds none of the literals, so the pattern cannot match it (text lower-case for re.I)."""
    return literals is None or any(s in text for s in literals)


def first_possible(literals: Literals | None, lowered: str) -> int:
    """The earliest index a match can involve (-1: none can exist); `lowered` is the ASCII text lower-cased."""
    if literals is None:
        return 0
    found = [i for i in map(lowered.find, literals) if i >= 0]
    return min(found) if found else -1


_MAX_EXACT = 64  # beyond this many spellings a run is cut, not expanded


def requirements_of(source: str, flags: int = 0) -> list[Literals]:
    """Every set of strings one of which occurs in every match of ``re.compile(source, flags)`` (literals_of is the
    most selective of them), each cut to the strings that hold no other of its strings, and a set's common start
    (three characters or more) as a set of its own: a text lacking it holds none of the set. [] for re.I patterns
    and patterns with no such set. For the few patterns searched alternative by alternative (Leftmost), which
    keeps them between runs through core.recache (_needs)."""
    if flags & re.IGNORECASE:
        return []
    found: list[Literals] = []
    for choice in _choices_of_sequence(_parser.parse(source, flags)):
        words = frozenset(s for s in choice if not any(o != s and o in s for o in choice))
        start = _common_start(words)
        if len(words) > 1 and len(start) >= 3:
            found.append(frozenset([start]))
        found.append(words)
    return found


def _common_start(words: Literals) -> str:
    first, last = min(words, default=""), max(words, default="")  # the common start of all is that of these two
    n = 0
    while n < len(first) and n < len(last) and first[n] == last[n]:
        n += 1
    return first[:n]


def _of_sequence(items: Any) -> Literals | None:
    choices = _choices_of_sequence(items)
    if not choices:
        return None
    # The most selective requirement: longest shortest literal, then fewest alternatives.
    return max(choices, key=lambda c: (min(map(len, c)), -len(c)))


def _choices_of_sequence(items: Any) -> list[Literals]:
    """The sets of literals a match of the sequence holds one of each."""
    choices: list[Literals] = []
    run: set[str] = {""}  # the exact spellings of the literal stretch being read, e.g. "copy of " + (the|your)
    for op, av in items:
        exact = _exact(op, av)
        if exact is not None and len(run) * len(exact) <= _MAX_EXACT:
            run = {a + b for a in run for b in exact}
            continue
        if run != {""}:
            choices.append(frozenset(run))
        run = {""}
        found = _of_item(op, av)
        if found is not None:
            choices.append(found)
    if run != {""}:
        choices.append(frozenset(run))
    return [c for c in choices if "" not in c]


def _exact(op: Any, av: Any) -> set[str] | None:
    """Every string the item can match, when it is a literal, an optional literal or a choice of literals."""
    if op is C.LITERAL:
        return {chr(av)}
    if op is C.SUBPATTERN and not av[1] and not av[2]:
        return _exact_sequence(av[3])
    if op is C.BRANCH:
        out: set[str] = set()
        for branch in av[1]:
            found = _exact_sequence(branch)
            if found is None:
                return None
            out |= found
        return out if len(out) <= _MAX_EXACT else None
    if op in (C.MAX_REPEAT, C.MIN_REPEAT) and av[0] == 0 and av[1] == 1:
        found = _exact_sequence(av[2])
        return None if found is None else found | {""}
    if op is C.IN and len(av) <= 4 and all(o is C.LITERAL for o, _ in av):
        return {chr(c) for _, c in av}
    return None


def _exact_sequence(items: Any) -> set[str] | None:
    out = {""}
    for op, av in items:
        exact = _exact(op, av)
        if exact is None or len(out) * len(exact) > _MAX_EXACT:
            return None
        out = {a + b for a in out for b in exact}
    return out


def _of_item(op: Any, av: Any) -> Literals | None:
    if op is C.SUBPATTERN:
        _group, add_flags, del_flags, inner = av
        return None if add_flags or del_flags else _of_sequence(inner)
    if op is C.ATOMIC_GROUP:
        return _of_sequence(av)
    if op is C.BRANCH:
        union: set[str] = set()
        for branch in av[1]:
            found = _of_sequence(branch)
            if found is None:
                return None
            union |= found
        return frozenset(union)
    if op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
        low, _high, inner = av
        return _of_sequence(inner) if low >= 1 else None
    # Character classes, anchors, lookarounds, back-references: no literal is certain.
    return None


# The only characters beyond ASCII that re.I matches with an ASCII one (İ, ı, ſ, K: Kelvin), checked over all of
# Unicode by tests/reports/test_prefilter.py; a text without them holds a re.I match of an ASCII literal exactly
# when its lower-cased copy holds the literal.
_FOLDS_TO_ASCII = re.compile("[\u0130\u0131\u017f\u212a]")


def lowered_for_literals(text: str) -> str | None:
    """The text lower-cased, to look for a re.I pattern's (ASCII) literals in; None when that would not be exact.

    The copy is as long as the text, character for character (only U+0130, one of the four, lower-cases to two
    characters), so an offset found in it is the same offset in the text.

    The last few texts of a kept size are answered from `_recent`: the readers of one message ask about the same
    text again and again (each retry pattern about the same sample, the pre-checks about the same body), and
    two-thirds of what was lower-cased over the corpus had just been lower-cased (comparing texts of different
    lengths costs nothing; an equal one is a memcmp, against a case mapping per character)."""
    global _recent
    recent = _recent
    for seen, lowered in recent:
        if seen == text:
            return lowered
    lowered = text.lower() if text.isascii() or _FOLDS_TO_ASCII.search(text) is None else None
    if _KEEP_FROM <= len(text) <= _KEEP_UP_TO:
        _recent = ((text, lowered), *recent[: _KEEP - 1])  # one tuple assigned at once: threads see a whole one
    return lowered


_KEEP = 4
# Short texts (a line of a notice) cost little to lower-case and would push the message's texts out; long ones are
# not held after their message (a few MB of body), so the kept copies stay under a megabyte or two.
_KEEP_FROM = 200
_KEEP_UP_TO = 200_000
_recent: tuple[tuple[str, str | None], ...] = ()


def cannot_match_ci(literals: Literals | None, text: str) -> bool:
    """True when a re.I pattern with these literals cannot match: a text that holds none of them."""
    if literals is None:
        return False
    lowered = lowered_for_literals(text)
    return lowered is not None and not any(s in lowered for s in literals)


class Searchable(Protocol):
    """A compiled pattern, or one compiled on first use (core.lazyre)."""

    def search(self, string: str, /) -> re.Match[str] | None: ...


def search_ci(pattern: Searchable, literals: Literals | None, text: str) -> re.Match[str] | None:
    """pattern.search(text) for a re.I pattern, skipped when the text cannot match."""
    return None if cannot_match_ci(literals, text) else pattern.search(text)


_INLINE_FLAGS = r"\(\?[aiLmsux-]|\\[1-9]|\(\?P="  # compiled by re's own cache on the first split, not at import


# recache.strings' kinds: what of a text prefilter keeps between runs besides its literals.
_BRANCHES = -1  # top_branches of a source
_TRIE = -2  # _trie of the words (joined by line feeds)
_NEEDS = -3  # requirements_of a source (its flags, a line feed, the source): Leftmost's alternatives


def top_branches(source: str) -> list[str] | None:
    """The source's top-level alternatives (split at each ``|`` outside groups and classes), or None when a
    split could change what matches (inline flags, back-references). Kept between runs by core.recache, as the
    literals are: the split reads the source a character at a time in Python (~2 ms over the reason rules)."""
    found = recache.strings(source, _BRANCHES, _top_branches, __file__)
    if found is not None and "|".join(found) != source:  # a kept split that is not this source's (a damaged file)
        found = _top_branches(source)
    return None if found is None else list(found)


def _top_branches(source: str) -> tuple[str, ...] | None:
    if re.search(_INLINE_FLAGS, source):
        return None
    branches: list[str] = []
    depth, start, i, n = 0, 0, 0, len(source)
    while i < n:
        c = source[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":  # a class: to its closing "]" (one right after "[" or "[^" is a member)
            i += 2 if source.startswith("[^", i) else 1
            if i < n and source[i] == "]":
                i += 1
            while i < n and source[i] != "]":
                i += 2 if source[i] == "\\" else 1
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            branches.append(source[start:i])
            start = i + 1
        i += 1
    branches.append(source[start:])
    return tuple(branches)


def worded_branches(source: str, flags: int = 0) -> list[tuple[Literals, str]] | None:
    """The source's top-level alternatives, each with the words a text must hold for it to match; None when the
    source is one alternative, a split could change what matches (``top_branches``), or an alternative has no words."""
    branches = top_branches(source)
    if branches is None or len(branches) < 2:
        return None
    checked = [(literals_of(branch, flags), branch) for branch in branches]
    if not all(words is not None for words, _ in checked):
        return None
    return [(words, branch) for words, branch in checked if words is not None]


# The split forms below (Alternatives, LinePattern) are derived on a pattern's this many-th search, whole until then.
_DERIVE_FROM = 4


class _Pattern(Protocol):
    """A pattern compiled on first use (core.lazyre.LazyPattern, which imports this module: named here by its shape)."""

    pattern: str
    flags: int

    def search(self, string: str, /) -> re.Match[str] | None: ...

    def literals(self) -> Literals | None: ...


class Alternatives:
    """Whether a re.I pattern matches anywhere in a text, tried one top-level alternative at a time.

    A pattern of many alternatives without a common literal is tried alternative by alternative at every offset
    of the text, and with re.I the engine cannot skip ahead to a literal: a whole-text search of the retry words
    cost ~0.2 ms. Each alternative alone, behind its own words found in the lower-cased ASCII text (as
    ``cannot_match_ci`` judges them), is searched only when the text holds them. A pattern matches somewhere
    exactly when one of its alternatives does; a non-ASCII text, or a pattern with an alternative without
    words (or one a split could change: ``top_branches``), is searched whole behind the pattern's own pre-check.
    The split is derived on the pattern's first use, each alternative compiled on its first search.
    """

    __slots__ = ("pattern", "_split", "_derived", "_uses")

    def __init__(self, pattern: _Pattern) -> None:
        self.pattern = pattern
        self._split: list[tuple[Literals, str, list[re.Pattern[str]]]] | None = None  # (words, source, [compiled])
        self._derived = False
        self._uses = 0

    def _derive(self) -> None:
        self._uses += 1
        if self._uses < _DERIVE_FROM:  # searched whole until then: a command reading one report derives nothing
            return
        self._derived = True
        split = worded_branches(self.pattern.pattern, self.pattern.flags)
        if split is not None:
            self._split = [(words, branch, []) for words, branch in split]

    def found_in(self, text: str) -> bool:
        """``self.pattern.search(text) is not None``."""
        if not self._derived:
            self._derive()
        split = self._split
        lowered = lowered_for_literals(text) if split is not None else None
        if split is None or lowered is None:
            return search_ci(self.pattern, self.pattern.literals(), text) is not None
        for words, source, compiled in split:
            for word in words:
                if word in lowered:
                    if not compiled:
                        compiled.append(recache.compile(source, self.pattern.flags))
                    if compiled[0].search(text):
                        return True
                    break
        return False


class LiteralScan:
    """Which of many literals occur in a text, found in one pass of the regex engine instead of one ``in`` test each.

    The literals are compiled into one lookahead over their trie, ``(?=(...))``, which the engine tries at every
    offset of the text: at each it yields the longest literal that starts there (a greedy optional at each trie
    node tries the longer one first). Two literals that both start at one offset are a prefix of one another, so
    the shorter ones starting there are the yielded literal's prefixes among the literals (``_prefixes``); and
    every offset is tried, so a literal inside another one is found at its own start. Hence ``found(text)`` is
    exactly ``{s for s in literals if s in text}``. The trie's text is kept between runs by core.recache (writing
    it costs ~6 ms for the reason rules' ~800 words), and its compiled code with the other patterns; a literal's
    prefixes are listed when a text first yields it (listing all ~800 took ~5 ms, and a text yields a few).
    """

    __slots__ = ("_pattern", "_known", "_prefixes")

    def __init__(self, literals: Iterable[str]) -> None:
        words = sorted({s for s in literals if s})
        self._known = frozenset(words)
        self._prefixes: dict[str, frozenset[str]] = {}
        # A pattern that can never match when there are no literals (an empty lookahead would match everywhere).
        self._pattern = recache.compile(f"(?=({_trie_of(words)}))" if words else r"(?!)")

    def found(self, text: str) -> set[str]:
        """The literals that occur in the text."""
        out: set[str] = set()
        prefixes = self._prefixes
        for longest in set(self._pattern.findall(text)):
            got = prefixes.get(longest)
            if got is None:
                known = self._known
                got = prefixes[longest] = frozenset(longest[:n] for n in range(1, len(longest) + 1) if longest[:n] in known)
            out |= got
        return out


def _trie_of(words: list[str]) -> str:
    """_trie(words), kept between runs (words holding a line feed, which joins them in the key, are written each time)."""
    if any("\n" in w for w in words):
        return _trie(words)
    found = recache.strings("\n".join(words), _TRIE, _trie_text, __file__)
    return found[0] if found is not None and len(found) == 1 else _trie(words)


def _trie_text(joined: str) -> tuple[str, ...]:
    return (_trie(joined.split("\n")),)


def _trie(words: list[str], lo: int = 0, hi: int | None = None, depth: int = 0) -> str:
    """An alternation matching exactly the (sorted, distinct, non-empty) words, written as their trie: the words
    words[lo:hi], which share their first `depth` characters (read in place, not sliced: building the scan of
    reason_rules' ~800 words took 17 ms with a copy of every suffix at every level, 5 here)."""
    hi = len(words) if hi is None else hi
    alternatives: list[str] = []
    escaped = _ESCAPED
    i = lo
    while i < hi:
        first = words[i][depth]
        j = i + 1
        while j < hi and words[j][depth] == first:
            j += 1
        # Sorted and distinct: only the group's first word can end here, and the rest all go on.
        ends_here = len(words[i]) == depth + 1
        rest = i + 1 if ends_here else i
        head = escaped.get(first) or escaped.setdefault(first, re.escape(first))
        if rest == j:
            alternatives.append(head)
        else:
            inner = _trie(words, rest, j, depth + 1)
            if ends_here:  # ends here or continues: the longer first (greedy)
                inner = f"(?:{inner})?"
            elif j - rest > 1 and words[rest][depth + 1] != words[j - 1][depth + 1]:  # several branches: grouped
                inner = f"(?:{inner})"
            alternatives.append(head + inner)
        i = j
    return "|".join(alternatives)


_ESCAPED: dict[str, str] = {}  # re.escape of one character, as _trie asks for it thousands of times



class Leftmost:
    """``pattern.search(text)`` for a pattern without re.I, tried one top-level alternative at a time behind its words.

    A search tries every alternative at every offset; the engine skips ahead only to a character one of them can
    start with, so a pattern whose alternatives start with many different characters is tried almost everywhere.
    The whole pattern matches first where one of its alternatives matches first, and at that offset the earliest
    alternative wins: so the leftmost of the alternatives' own matches (the earliest alternative at a tie) is the
    whole search's match, as the alternative's match object (its groups are that alternative's own: read them by
    content, not by number). An alternative whose words (``literals_of``) the text lacks cannot match and is not
    searched. Nor is one lacking any other set of strings its matches all hold (``requirements_of``): a single set
    let the command search's ``(?:>>>|in:|smtp command) ?(rcpt|mail|...)`` through on "mail", in nearly every
    bounce, to be tried at each of their ">", "i", "s" and "-". A pattern with re.I, or one that cannot be split
    (``worded_branches``), is searched whole.
    """

    __slots__ = ("pattern", "_split", "_derived", "_uses")

    def __init__(self, pattern: _Pattern) -> None:
        self.pattern = pattern
        # Each alternative with the sets of strings a text must hold one of each, the fewest strings first.
        self._split: list[tuple[tuple[Literals, ...], re.Pattern[str]]] | None = None
        self._derived = False
        self._uses = 0

    def _derive(self) -> None:
        self._uses += 1
        if not self._derived:
            self._derived = True
            flags = self.pattern.flags
            found = None if flags & re.IGNORECASE else worded_branches(self.pattern.pattern, flags)
            if found is not None:
                self._split = [((words,), recache.compile(source, flags)) for words, source in found]
                kept = [needs for words, source in found if (needs := _kept_needs(words, source, flags)) is not None]
                if len(kept) == len(found):  # read by an earlier process: used from this first search on
                    self._split = [(needs, branch) for needs, (_, branch) in zip(kept, self._split, strict=True)]
                    self._uses = _NEEDS_FROM
        elif self._uses == _NEEDS_FROM and self._split is not None:
            flags = self.pattern.flags
            self._split = [(_needs(needs[0], branch.pattern, flags), branch) for needs, branch in self._split]

    def search(self, text: str) -> re.Match[str] | None:
        if self._uses < _NEEDS_FROM:
            self._derive()
        split = self._split
        if split is None:
            return self.pattern.search(text)
        best: re.Match[str] | None = None
        for needs, branch in split:
            for words in needs:
                for word in words:
                    if word in text:
                        break
                else:
                    break  # the text holds none of this set: the alternative cannot match
            else:
                match = branch.search(text)
                if match is not None and (best is None or match.start() < best.start()):  # a tie: the one before
                    best = match
        return best


# Requirements the cache lacks are read (parsing each alternative) on this many-th search, then kept: the ~7M
# instructions that costs are ~170 searches' savings, more than a command reading a few reports makes.
_NEEDS_FROM = 100


def _needs(words: Literals, source: str, flags: int) -> tuple[Literals, ...]:
    """The alternative's words and its other requirements, the sets of fewest strings (cheapest to rule out) first.
    The requirements are kept between runs by core.recache (written by the process that read them), so a later
    process, each parse child and a one-report command, uses them from its first search (_kept_needs)."""
    found = recache.strings(f"{flags}\n{source}", _NEEDS, _requirements_text, __file__)
    needs = None if found is None else _requirements_from(found)
    if needs is None:  # a kept value that does not read as sets (damaged): read again, not kept
        needs = requirements_of(source, flags)
    return _ordered(words, needs)


def _ordered(words: Literals, requirements: list[Literals]) -> tuple[Literals, ...]:
    sets = [words, *(r for r in requirements if r != words)]
    return tuple(sorted(sets, key=len))


class _NotKept(Exception):
    """The requirements are not in the cache: Leftmost reads them on its _NEEDS_FROM-th search, as without one."""


def _not_kept(text: str) -> tuple[str, ...] | None:
    raise _NotKept


def _kept_needs(words: Literals, source: str, flags: int) -> tuple[Literals, ...] | None:
    """_needs as the cache holds it, or None when it does not (nothing is derived: a command searching a few times
    does not pay the ~7M instructions reading them costs)."""
    try:
        found = recache.strings(f"{flags}\n{source}", _NEEDS, _not_kept, __file__)
    except _NotKept:
        return None
    needs = None if found is None else _requirements_from(found)
    return None if needs is None else _ordered(words, needs)


def _requirements_text(text: str) -> tuple[str, ...]:
    """requirements_of the source in recache.strings' key, written as each set's size and then its strings."""
    flags, _, source = text.partition("\n")
    written: list[str] = []
    for words in requirements_of(source, int(flags)):
        written += [str(len(words)), *sorted(words)]
    return tuple(written)


def _requirements_from(written: tuple[str, ...]) -> list[Literals] | None:
    """The sets _requirements_text wrote, or None when `written` is not such a text."""
    found: list[Literals] = []
    i = 0
    while i < len(written):
        size = written[i]
        if not size.isdigit() or int(size) < 1 or i + 1 + int(size) > len(written):
            return None
        found.append(frozenset(written[i + 1 : i + 1 + int(size)]))
        i += 1 + int(size)
    return found


class _Anchored(Protocol):
    """A pattern searched and matched from an offset (re.Pattern, core.lazyre.LazyPattern)."""

    pattern: str
    flags: int

    def search(self, string: str, pos: int = ..., /) -> re.Match[str] | None: ...

    def match(self, string: str, pos: int = ..., /) -> re.Match[str] | None: ...

    def finditer(self, string: str, /) -> Iterator[re.Match[str]]: ...


class LinePattern:
    """``search`` and ``finditer`` of a re.M pattern that starts with ``^``, found through the line feeds before its lines.

    A pattern that opens with ``^`` under re.M gives the engine nothing to skip ahead to, so it is tried at every
    offset of the text (a few dozen nanoseconds each: ~0.1 ms on a notice's text). The same pattern with the
    ``^`` written as a line feed starts with a literal, which the engine finds at C speed; each line start it
    finds (and offset 0) is then matched with the pattern itself, so the matches are the pattern's own objects.
    ``^`` under re.M matches at offset 0 and after each line feed (from ``pos`` on, not at ``pos`` itself unless
    a line feed precedes it), which is exactly where the line-feed form finds a match one character earlier.
    A pattern that is not one ``^``-led alternative is searched as it is.
    """

    __slots__ = ("pattern", "_after_feed", "_derived", "_uses")

    def __init__(self, pattern: _Anchored) -> None:
        self.pattern = pattern
        self._after_feed: re.Pattern[str] | None = None
        self._derived = False
        self._uses = 0

    def _derive(self) -> None:
        self._uses += 1
        if self._uses < _DERIVE_FROM:  # a command reading one or two reports does not compile a second form
            return
        self._derived = True
        source, flags = self.pattern.pattern, self.pattern.flags
        branches = top_branches(source)
        # Never an empty match (its shortest is longer than 0): finditer then goes on at the previous match's end.
        one = flags & re.MULTILINE and source.startswith("^") and branches is not None and len(branches) == 1
        if one and _parser.parse(source, flags).getwidth()[0] > 0:
            self._after_feed = recache.compile("\n" + source[1:], flags)

    def search(self, text: str, pos: int = 0) -> re.Match[str] | None:
        if not self._derived:
            self._derive()
        after_feed = self._after_feed
        if after_feed is None:
            return self.pattern.search(text, pos)
        if pos <= 0:
            pos = 0
            match = self.pattern.match(text, 0)
            if match is not None:
                return match
        feed = after_feed.search(text, pos - 1 if pos > 0 else 0)
        if feed is None:
            return None
        return self.pattern.match(text, feed.start() + 1)

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        if not self._derived:
            self._derive()
        if self._after_feed is None:
            yield from self.pattern.finditer(text)
            return
        pos = 0
        while pos <= len(text):
            match = self.search(text, pos)
            if match is None:
                return
            yield match
            pos = match.end() if match.end() > match.start() else match.end() + 1
