"""Compiled regexes and their pre-check literals kept between runs, so a later command skips re's pure-Python compile.

CPython compiles a regex in Python: re._parser parses the pattern and re._compiler turns the parse into a list
of opcodes, which only then `_sre.compile(pattern, flags, code, groups, groupindex, indexgroup)` makes into a
Pattern, in C. Over the Sisimai corpus the first pass of `maild parse` compiled ~400 patterns in ~50 ms and
parsed ~500 once more for their pre-check literals (``core.prefilter.literals_of``) in ~40 ms: a third of the
whole command. Those answers depend only on the pattern, its flags and the interpreter, so they are kept:

* where: ``regexes.<cache tag>-<interpreter tag>.marshal`` in the ``__pycache__`` folder of this module's bytecode (``maild/core/``, or
  under ``sys.pycache_prefix``), so an install whose bytecode a user may write is one whose cache it may write;
* what: for each (pattern, flags) the arguments of ``_sre.compile``, and for each (source, flags) its literals
  (beside them, under negative kinds, prefilter's other readings of a text: ``strings()``);
  the whole file is keyed by the interpreter (``sys.version``, ``_sre.MAGIC``, ``CODESIZE``, ``MAXREPEAT``,
  ``MAXGROUPS``) and the literals also by the size and modification time of the module that derives them (what
  Python itself trusts its bytecode by). Any difference, an unreadable, damaged or foreign file (owned by neither
  this user nor the package's owner, or writable by group or others) and the file is not used: patterns are
  compiled by ``re.compile`` as without it. An entry `_sre.compile` refuses is compiled by re.compile too;
* when it is written: by `save()` (the parse child of `maild parse` and `maild ingest` calls it when its items
  are done; a process that ends normally calls it at exit) and only when this process met patterns the file did
  not hold. A new entry is recorded only after the Pattern made from it compared equal to re.compile's (same
  pattern, flags and code), so a Python whose re internals differ records nothing. A folder this user cannot write
  means no entry is derived or written (the file, if there is one, is still read): a system install run by another
  user than its owner compiles every run, as before, until its owner has run a command once. Python's
  ``PYTHONDONTWRITEBYTECODE`` is about bytecode and is not read here (this machine's sessions set it).
  The file is replaced whole (written beside it, then renamed), merged with what another process wrote meanwhile,
  and holds at most MAX_ENTRIES in each table (compiled patterns; literals and strings() together), this run's first.
"""

from __future__ import annotations

import marshal
import os
import re
import sys

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Entry = tuple[int, list[int], int, dict[str, int], tuple[str | None, ...]]  # _sre.compile's arguments after the pattern
    Literals = frozenset[str] | None

# The file: marshal of (_INTERPRETER, {(pattern, flags): entry}, literals' stamp, {(source, flags): literals}), each
# entry and literals marshalled on its own (the code as _sre's words in bytes): a command loads the keys and bytes
# (~0.5 ms for ~1,000 patterns) and decodes only the entries it uses; the code as a marshalled list of ints cost ~3 ms.
FORMAT = 2
MAX_ENTRIES = 4096  # in each table: maild's tables hold under a thousand; a bound if patterns ever come from data
_sre: Any = __import__("_sre")  # re's C engine: untyped (no stub), as private as re._parser
# A command that compiles a few short patterns (the readers' escaping of what they print, the settings' URL and
# quantity syntax) compiles them for less than loading the file costs (~0.9 ms for ~700 entries; compiling costs
# ~1.2 us a character of pattern here): the file is read once the patterns compiled without it are this many
# characters long, or by the first literals().
_LOAD_AFTER = 600
_WORD = "I"  # one _sre code word (CODESIZE 4 bytes) as memoryview.cast and array read it: native order, as is the file
_INTERPRETER = (FORMAT, sys.version, sys.hexversion, _sre.MAGIC, _sre.CODESIZE, _sre.MAXREPEAT, _sre.MAXGROUPS)
# The regex parser's own modules: private, so typed Any; a Python that changes them gets no entries (see _entry).
_parser: Any = __import__("re._parser", fromlist=["_parser"])
_compiler: Any = __import__("re._compiler", fromlist=["_compiler"])
# re's own compile, as this module found it: what compile() falls back to, also while serving_re_compile has
# put compile() in its place.
_re_compile = re.compile


class _State:
    """The file's tables as loaded, what this process added, and where the file is."""

    def __init__(self) -> None:
        self.loaded = False
        self.uncached = 0  # the length of the patterns compile() compiled before the file was loaded
        self.path: str | None = None
        self.writable = False
        self.compiled: dict[tuple[str, int], bytes] = {}  # entries as in the file (see FORMAT)
        self.literals: dict[tuple[str, int], bytes] = {}
        self.literals_key: object = None  # the deriving module's (path, size, mtime) the literals were derived by
        self.literals_module: str | None = None
        self.stamped = False  # literals_key checked against the module as it is now
        self.new_compiled: dict[tuple[str, int], bytes] = {}
        self.new_literals: dict[tuple[str, int], bytes] = {}
        self.at_exit = False


_state = _State()


def cache_path() -> str | None:
    """Where the cache lives: this module's bytecode folder (None when it has no bytecode location)."""
    cached = globals().get("__cached__")
    if not cached:
        return None
    # Named by the whole interpreter key, not the cache tag alone: two builds of 3.11 (a distribution's and a
    # pyenv one) running one source tree each found the other's file foreign and rewrote it, every run.
    return os.path.join(os.path.dirname(cached), f"regexes.{sys.implementation.cache_tag}-{interpreter_tag()}.marshal")


def interpreter_tag() -> str:
    """Eight hex digits of the interpreter key the file is valid for (_INTERPRETER), in its name."""
    from binascii import crc32

    return f"{crc32(repr(_INTERPRETER).encode()):08x}"


def compile(pattern: str, flags: int = 0) -> re.Pattern[str]:  # noqa: A001 - re.compile's name, as a drop-in
    """``re.compile(pattern, flags)`` for a str pattern, made from the kept code when this interpreter compiled it before."""
    flags = int(flags)
    state = _state
    if not state.loaded:
        state.uncached += len(pattern)
        if state.uncached <= _LOAD_AFTER:
            return _re_compile(pattern, flags)
        _loaded()
    key = (pattern, flags)
    kept = state.compiled.get(key)
    if kept is not None:
        try:
            found, words, groups, groupindex, indexgroup = marshal.loads(kept)
            made: re.Pattern[str] = _sre.compile(pattern, found, memoryview(words).cast("I").tolist(), groups, groupindex, indexgroup)
            return made
        except Exception:  # noqa: BLE001 - a damaged entry: compiled as without the cache, and not kept again
            state.compiled.pop(key, None)
    compiled = _re_compile(pattern, flags)
    if state.writable and not flags & re.DEBUG:
        entry = _entry(pattern, flags, compiled)
        if entry is not None:
            state.compiled[key] = state.new_compiled[key] = entry
            _save_at_exit(state)
    return compiled


def _compile_any(pattern: Any, flags: int = 0) -> Any:
    """re.compile's stand-in while serving_re_compile is on: str patterns by compile(), anything else by re."""
    return compile(pattern, flags) if type(pattern) is str else _re_compile(pattern, flags)


class serving_re_compile:  # noqa: N801 - used like a function, as contextlib's context managers are
    """``with serving_re_compile(): import lib``: the module-level ``re.compile(...)`` calls of a library imported
    inside are served by compile() above, so a library that compiles its tables at import (flufl.bounce's 150
    patterns, ~10 ms of `maild parse` over a few hundred bounces) compiles them once per install, not per process.

    While it is on, ``re.compile`` is this module's stand-in for every caller of the process: it returns what
    re.compile would (compile() is a drop-in; bytes patterns, str subclasses and Patterns go to re itself), so a
    thread compiling meanwhile gets an equal Pattern. Nested or overlapping uses leave the first one's stand-in,
    and re.compile is put back when that one ends. contextlib is not imported for it (start-up).
    """

    def __enter__(self) -> None:
        self.swapped = re.compile is _re_compile
        if self.swapped:
            re.compile = _compile_any

    def __exit__(self, *exc: object) -> None:
        if self.swapped and re.compile is _compile_any:
            re.compile = _re_compile


def literals(source: str, flags: int, derive: Callable[[str, int], Literals], module_file: str) -> Literals:
    """``derive(source, flags)``, kept between runs while `module_file` (where derive and its helpers live) is unchanged."""
    found: Literals = _kept(source, flags, derive, module_file, _are_literals)
    return found


def strings(source: str, kind: int, derive: Callable[[str], tuple[str, ...] | None], module_file: str) -> tuple[str, ...] | None:
    """``derive(source)``, kept with the literals (in the same table, by the same module's stamp) while `module_file`
    is unchanged: the other pure-Python readings of a pattern's text that a parse redoes in every process
    (``core.prefilter``'s split of a pattern at its alternatives, the one-pass scan's trie). `kind` (negative, so
    never a regex's flags) tells one reading of a text from another."""
    if kind >= 0:
        raise ValueError("a kind of strings is negative: flags >= 0 key the literals")
    found: tuple[str, ...] | None = _kept(source, kind, lambda text, _kind: derive(text), module_file, _are_strings)
    return found


def _are_literals(known: object) -> bool:
    return known is None or isinstance(known, frozenset) and all(isinstance(s, str) for s in known)


def _are_strings(known: object) -> bool:
    return known is None or isinstance(known, tuple) and all(isinstance(s, str) for s in known)


def _kept(source: str, tag: int, derive: Callable[[str, int], Any], module_file: str, valid: Callable[[object], bool]) -> Any:
    state = _loaded()
    if state.literals_module not in (None, module_file):  # one deriving module per process (core.prefilter)
        return derive(source, tag)
    state.literals_module = module_file
    key = (source, tag)
    if not state.stamped:  # once per process: the file's literals are dropped when their module changed since
        state.stamped = True
        stamp = _stamp(module_file)
        if state.literals_key != stamp:
            state.literals = {}
            state.literals_key = stamp
    kept = state.literals.get(key)
    if kept is not None:
        try:
            known = marshal.loads(kept)
        except (EOFError, ValueError, TypeError):
            known = False
        if valid(known):
            return known
        state.literals.pop(key, None)  # damaged: derived again
    found = derive(source, tag)
    if state.writable:
        state.literals[key] = state.new_literals[key] = marshal.dumps(found)
        _save_at_exit(state)
    return found


def save() -> None:
    """Write what this process added to the cache file (merged with the file's current content); never raises."""
    state = _state
    if not (state.new_compiled or state.new_literals) or state.path is None:
        return
    current = _read(state.path)
    compiled = dict(state.new_compiled)
    literals_kept = dict(state.new_literals)
    if current is not None:
        _fill(compiled, current[1])
        if current[2] == state.literals_key:
            _fill(literals_kept, current[3])
    _fill(compiled, dict(state.compiled))  # copies (one C call each): another thread may be adding to them
    _fill(literals_kept, dict(state.literals))
    try:
        table: Any = (_INTERPRETER, compiled, state.literals_key, literals_kept)
        data = marshal.dumps(table)
    except ValueError:  # an unmarshallable value cannot come from re or prefilter; never fail the caller for it
        return
    temporary = f"{state.path}.{os.getpid()}.tmp"
    try:
        with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644), "wb") as f:
            f.write(data)
        os.replace(temporary, state.path)
    except OSError:  # the folder went away or became read-only: the next run compiles, as without a cache
        try:
            os.unlink(temporary)
        except OSError:
            pass
        return
    state.new_compiled.clear()
    state.new_literals.clear()


def _fill(into: dict[tuple[str, int], bytes], more: dict[tuple[str, int], bytes]) -> None:
    for key, value in more.items():
        if len(into) >= MAX_ENTRIES:
            return
        into.setdefault(key, value)


def _loaded() -> _State:
    state = _state
    if state.loaded:
        return state
    state.loaded = True
    path = state.path = cache_path()
    if path is None:
        return state
    folder = os.path.dirname(path)
    state.writable = os.access(folder, os.W_OK)
    found = _read(path)
    if found is not None:
        state.compiled, state.literals_key, state.literals = found[1], found[2], found[3]
    return state


def _read(path: str) -> tuple[object, dict[tuple[str, int], bytes], object, dict[tuple[str, int], bytes]] | None:
    """The file's (interpreter, compiled, literals key, literals), or None when it is missing, foreign or not this interpreter's."""
    try:
        with open(path, "rb") as f:
            mine = os.fstat(f.fileno())
            if mine.st_mode & 0o022 or mine.st_uid not in (os.geteuid(), _package_owner()):
                return None
            found = marshal.loads(f.read())
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if not (isinstance(found, tuple) and len(found) == 4 and found[0] == _INTERPRETER
            and isinstance(found[1], dict) and isinstance(found[3], dict)):
        return None
    return found


def _package_owner() -> int:
    try:
        return os.stat(os.path.dirname(__file__)).st_uid
    except OSError:
        return os.geteuid()


def _stamp(module_file: str) -> object:
    try:
        st = os.stat(module_file)
    except OSError:
        return None
    return (module_file, st.st_size, st.st_mtime_ns)


def _entry(pattern: str, flags: int, compiled: re.Pattern[str]) -> bytes | None:
    """What re._compiler.compile passes to _sre.compile for this pattern (marshalled, see FORMAT), when a Pattern made
    from it equals `compiled`."""
    try:
        from array import array  # only where entries are made: a process that reads the cache needs none
        parsed = _parser.parse(pattern, flags)
        code = _compiler._code(parsed, flags)
        groupindex = dict(parsed.state.groupdict)
        indexgroup: list[str | None] = [None] * parsed.state.groups
        for name, index in groupindex.items():
            indexgroup[index] = name
        # The opcodes are re._constants' named int subclasses, which marshal refuses: plain ints, equal to them.
        entry: Entry = (int(flags | parsed.state.flags), [int(c) for c in code], parsed.state.groups - 1, groupindex, tuple(indexgroup))
        if _sre.compile(pattern, *entry) != compiled:  # Pattern equality: same pattern, flags and code
            return None
        words = array(_WORD, entry[1])
        if words.itemsize != _sre.CODESIZE:
            return None
        return marshal.dumps((entry[0], words.tobytes(), *entry[2:]))
    except Exception:  # noqa: BLE001 - another Python's private re internals: no entry, never a wrong one
        return None


def _save_at_exit(state: _State) -> None:
    if not state.at_exit:
        state.at_exit = True
        import atexit

        atexit.register(save)
