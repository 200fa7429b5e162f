"""flufl.bounce's all_failures, with its two line-pattern detectors given only the pattern sets that can start in the message.

flufl.bounce's SimpleMatch and SimpleWarning hold 48 sets of (start, end, address) patterns and run each set
over every body line (``email.iterators.body_line_iterator``): a set reads addresses only after its start
pattern matched a line, and the first set that reads any wins. Over the corpus's bounces that reach flufl.bounce,
those 48 passes were most of its time (0.6 ms a message, a twentieth of a bounce's parse). A start pattern
whose literals (``core.prefilter``: one of them is in every match, lower-case under re.I) the lower-cased body
text lacks matches no line (each line is a substring of a part's payload), so its set reads nothing and is
left out: the sets that stay are run by flufl.bounce's own code, in their order, and the answer is the same.

The rest is all_failures as flufl.bounce 6 writes it (its detector list, read when called so a test may replace
it, its logger, the first detector that finds anything wins). Another flufl.bounce (a layout this module does
not know, another major version) is called as it is, unpruned.
"""

from __future__ import annotations

import re
import sys
from email.message import Message

from maild.core import recache
from maild.core.prefilter import Literals, literals_of, lowered_for_literals

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)
if TYPE_CHECKING:
    from typing import Any

Failures = tuple[frozenset[bytes], frozenset[bytes]]
PatternSet = tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]

# The pattern sets' start literals are derived on this many-th call (~1.2M instructions once, their literals kept by
# core.recache), or ahead by prepare(): a
# command reading one bounce runs flufl.bounce as it is.
_DERIVE_FROM = 4
_calls = 0
# Per detector class whose PATTERNS are pruned: each set with its start pattern's literals (None: always kept).
_starts: dict[type, list[tuple[PatternSet, Literals | None]]] | None = None


def all_failures(msg: Message, payloads: list[str]) -> Failures:
    """flufl.bounce.all_failures(msg); `payloads` are the str payloads of msg.walk()'s parts (the text its
    detectors read line by line)."""
    global _calls
    load()
    from flufl.bounce import _scan

    _calls += 1
    starts = _derive() if _calls >= _DERIVE_FROM or _starts is not None else None  # derived ahead: prepare()
    if starts is None:
        return _scan.all_failures(msg)
    lowered = lowered_for_literals("\n".join(payloads))
    temporary: set[bytes] = set()
    permanent: set[bytes] = set()
    for detector_class in _scan._DETECTORS:
        _scan.log.info("Running detector: %s", detector_class)
        detector: Any = detector_class()
        sets = starts.get(detector_class)
        if sets is not None and lowered is not None:
            # An instance attribute: the class's own list stays whole for every other caller and thread.
            detector.PATTERNS = [patterns for patterns, words in sets if words is None or any(w in lowered for w in words)]
        try:
            found_temporary, found_permanent = detector.process(msg)
        except Exception:
            _scan.log.exception("Exception in detector: %s", detector_class)
            raise
        temporary.update(found_temporary)
        permanent.update(found_permanent)
        if found_temporary or found_permanent:
            break
    return frozenset(temporary), frozenset(permanent)


def load() -> None:
    """Import flufl.bounce, as all_failures does on its first call."""
    if "flufl.bounce._scan" not in sys.modules:
        with recache.serving_re_compile():  # its detectors compile ~150 patterns at import: kept ones here
            import flufl.bounce._scan  # noqa: F401


def prepare() -> None:
    """Import flufl.bounce and derive its pattern sets' start literals now, rather than on the first and the
    _DERIVE_FROM-th call (reports.firstuse: for a process about to fork parse children)."""
    load()
    _derive()


def _derive() -> dict[type, list[tuple[PatternSet, Literals | None]]] | None:
    """The start literals of SimpleMatch's and SimpleWarning's pattern sets; None when flufl.bounce is not the
    layout this module was written against (then all_failures is flufl.bounce's own)."""
    global _starts
    if _starts is not None:
        return _starts or None
    _starts = {}
    try:
        import flufl.bounce
        from flufl.bounce import _scan
        from flufl.bounce._detectors.simplematch import SimpleMatch
        from flufl.bounce._detectors.simplewarning import SimpleWarning
    except ImportError:
        return None
    version: Any = getattr(flufl.bounce, "__version__", "")
    if not str(version).startswith("6.") or not callable(getattr(_scan, "all_failures", None)):
        return None
    starts: dict[type, list[tuple[PatternSet, Literals | None]]] = {}
    try:
        for detector_class in (SimpleMatch, SimpleWarning):
            sets: list[tuple[PatternSet, Literals | None]] = []
            for patterns in detector_class.PATTERNS:
                if not (isinstance(patterns, tuple) and len(patterns) == 3 and all(isinstance(p, re.Pattern) for p in patterns)):
                    return None
                start = patterns[0]
                # Looked for in the lower-cased text: only a re.I pattern's literals are lower-case (a str pattern's,
                # ASCII); any other set is always kept.
                words = literals_of(start.pattern, start.flags) if isinstance(start.pattern, str) and start.flags & re.I else None
                sets.append((patterns, words))
            starts[detector_class] = sets
    except Exception:  # a pattern this reading cannot take: flufl.bounce runs as it is, in a parse child as after prepare()
        return None
    _starts = starts
    return starts
