"""core.recache: regexes kept compiled between runs are the patterns re.compile makes, and a bad cache is only slower."""

from __future__ import annotations

import json
import marshal
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from maild.core import prefilter, recache
from maild.core.jsonvalue import to_json
from maild.reports import parse

CORPUS_FILES = ("bounces/sisimai/*/*.eml", "bounces/flufl/*.txt", "postfix-dsn/*.eml")


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh cache state whose file is in a temporary folder (the process's own cache is left as it was)."""
    path = tmp_path / "regexes.marshal"
    monkeypatch.setattr(recache, "cache_path", lambda: str(path))
    monkeypatch.setattr(recache, "_state", recache._State())
    monkeypatch.setattr(recache, "_LOAD_AFTER", 0)  # the file from the first pattern on (see the test of the threshold)
    return path


def fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a new process sees: nothing loaded yet, the same file."""
    monkeypatch.setattr(recache, "_state", recache._State())


def corpus_messages(corpus: Path) -> list[bytes]:
    return [f.read_bytes() for pattern in CORPUS_FILES for f in sorted(corpus.glob(pattern))]


# A fresh interpreter parses the corpus with the cache in a temporary file: the parser's modules keep the patterns
# they compiled (module globals) and their derived pre-checks, so only a new process compiles (and keeps) them all.
PROBE = (
    "import json, sys; from pathlib import Path; from maild.core import recache; from maild.reports import parse;"
    " from maild.core.jsonvalue import to_json;"
    " recache.cache_path = lambda: sys.argv[1];"
    " files = [p for pat in sys.argv[3:] for p in sorted(Path(sys.argv[2]).glob(pat))];"
    " print(json.dumps([to_json(parse(f.read_bytes())) for f in files])); recache.save()"
)


def answers_of_a_fresh_process(corpus: Path, cache: Path) -> str:
    run = subprocess.run([sys.executable, "-c", PROBE, str(cache), str(corpus), *CORPUS_FILES], capture_output=True, text=True, check=True)
    return run.stdout


def test_every_kept_pattern_of_the_corpus_is_re_compiles_own(corpus: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    answers_of_a_fresh_process(corpus, cache)
    kept = marshal.loads(cache.read_bytes())[1]
    assert len(kept) > 200  # the parser's tables, its rules and their split alternatives
    for (pattern, flags) in kept:
        made = recache.compile(pattern, flags)
        assert made == re.compile(pattern, flags)  # Pattern equality: the same pattern, flags and compiled code
        assert made.groupindex == re.compile(pattern, flags).groupindex
        assert made.groups == re.compile(pattern, flags).groups
    assert all(key in recache._state.compiled for key in kept)  # each one was made from the file, not compiled again


def test_answers_are_the_same_from_a_cold_and_a_kept_cache(corpus: Path, cache: Path) -> None:
    cold = answers_of_a_fresh_process(corpus, cache)
    assert cache.exists()
    warm = answers_of_a_fresh_process(corpus, cache)
    assert warm == cold
    assert len(json.loads(cold)) == len(corpus_messages(corpus)) > 400
    assert to_json(parse(corpus_messages(corpus)[0])) in json.loads(cold)  # real reports, this process's own answer too


def test_a_damaged_file_is_ignored(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache.write_bytes(b"\x00not marshal at all")
    assert recache.compile(r"a(b)c", re.I) == re.compile(r"a(b)c", re.I)
    recache.save()  # replaced by a good one
    fresh_process(monkeypatch)
    assert recache.compile(r"a(b)c", re.I) == re.compile(r"a(b)c", re.I)
    assert (r"a(b)c", int(re.I)) in recache._state.compiled


def test_another_interpreters_file_is_ignored(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recache.compile("x+y")
    recache.save()
    _, compiled, stamp, literals = marshal.loads(cache.read_bytes())
    other = (recache.FORMAT, "3.11.0 (someone else's build)", *recache._INTERPRETER[2:])
    bad_entry = marshal.dumps((0, bytes(12), 0, {}, (None,)))
    cache.write_bytes(marshal.dumps((other, {("x+y", 0): bad_entry}, stamp, literals)))
    fresh_process(monkeypatch)
    assert recache.compile("x+y") == re.compile("x+y")
    assert recache._state.compiled.get(("x+y", 0)) != bad_entry


def test_a_damaged_entry_is_compiled_by_re(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recache.compile("x+y")
    recache.save()
    _, compiled, stamp, literals = marshal.loads(cache.read_bytes())
    compiled[("x+y", 0)] = marshal.dumps((0, bytes(range(12)), 0, {}, (None,)))  # code _sre's validator refuses
    compiled[("q", 0)] = b"\xff not marshal"
    cache.write_bytes(marshal.dumps((recache._INTERPRETER, compiled, stamp, literals)))
    fresh_process(monkeypatch)
    assert recache.compile("x+y") == re.compile("x+y")
    assert recache.compile("q") == re.compile("q")


def test_a_file_others_may_write_is_not_read(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recache.compile("x+y")
    recache.save()
    os.chmod(cache, 0o666)
    fresh_process(monkeypatch)
    recache.compile("q")
    assert ("x+y", 0) not in recache._state.compiled


def test_a_command_that_compiles_a_pattern_or_two_never_reads_the_file(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recache.compile("x+y")
    recache.save()
    fresh_process(monkeypatch)
    monkeypatch.setattr(recache, "_LOAD_AFTER", 4)
    assert recache.compile("x+y") == re.compile("x+y") and recache.compile("z") == re.compile("z")
    assert not recache._state.loaded and recache._state.new_compiled == {}  # compiled by re, nothing to write
    recache.save()
    assert recache.compile("x+y") == re.compile("x+y")  # 7 characters in all: from the file
    assert recache._state.loaded and ("x+y", 0) in recache._state.compiled


def test_a_folder_that_cannot_be_written_gets_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    monkeypatch.setattr(recache, "cache_path", lambda: str(folder / "regexes.marshal"))
    monkeypatch.setattr(recache, "_state", recache._State())
    monkeypatch.setattr(recache, "_LOAD_AFTER", 0)
    monkeypatch.setattr(recache.os, "access", lambda path, mode: False)  # as for a user who does not own the install
    assert recache.compile("x+y") == re.compile("x+y")
    assert recache._state.new_compiled == {}  # nothing derived: no second parse of the pattern for nothing
    recache.save()
    assert list(folder.iterdir()) == []


def test_literals_are_derived_again_when_their_module_changed(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = r"undeliverable (?:mail|message)"
    assert prefilter.literals_of(source, re.I) == prefilter._literals_of(source, re.I)
    recache.save()
    _, compiled, stamp, literals = marshal.loads(cache.read_bytes())
    literals[(source, int(re.I))] = marshal.dumps(frozenset({"a word prefilter never derived"}))
    cache.write_bytes(marshal.dumps((recache._INTERPRETER, compiled, stamp, literals)))
    fresh_process(monkeypatch)
    assert prefilter.literals_of(source, re.I) == frozenset({"a word prefilter never derived"})  # kept: trusted
    cache.write_bytes(marshal.dumps((recache._INTERPRETER, compiled, ("prefilter.py", 1, 2), literals)))  # an older prefilter's
    fresh_process(monkeypatch)
    assert prefilter.literals_of(source, re.I) == prefilter._literals_of(source, re.I)


def test_damaged_literals_are_derived_again(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = r"undeliverable (?:mail|message)"
    prefilter.literals_of(source, re.I)
    recache.save()
    _, compiled, stamp, literals = marshal.loads(cache.read_bytes())
    literals[(source, int(re.I))] = marshal.dumps([1, 2])
    cache.write_bytes(marshal.dumps((recache._INTERPRETER, compiled, stamp, literals)))
    fresh_process(monkeypatch)
    assert prefilter.literals_of(source, re.I) == prefilter._literals_of(source, re.I)


class Reading:
    """A stand-in for one of prefilter's readings of a text (its split at the alternatives, its words' trie): what
    it was asked about, so a test tells a kept answer from one derived again."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.asked: list[str] = []

    def __call__(self, text: str) -> tuple[str, ...] | None:
        self.asked.append(text)
        return None if text == "unsplittable" else (self.tag, *text.split("|"))


@pytest.fixture
def reader(tmp_path: Path) -> Path:
    """The module a reading lives in: its size and modification time key what is kept of it."""
    module = tmp_path / "reader.py"
    module.write_text("# a reading of texts\n")
    return module


def test_strings_are_derived_once_and_kept_for_the_next_process(cache: Path, reader: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    split = Reading("split")
    assert recache.strings("a|b", -1, split, str(reader)) == ("split", "a", "b")
    assert recache.strings("a|b", -1, split, str(reader)) == ("split", "a", "b")
    assert recache.strings("unsplittable", -1, split, str(reader)) is None  # "no reading" is an answer kept too
    assert recache.strings("unsplittable", -1, split, str(reader)) is None
    assert split.asked == ["a|b", "unsplittable"]  # the second calls were answered from the table
    recache.save()
    fresh_process(monkeypatch)
    later = Reading("split")
    assert recache.strings("a|b", -1, later, str(reader)) == ("split", "a", "b")
    assert recache.strings("unsplittable", -1, later, str(reader)) is None
    assert later.asked == []  # the next process read both from the file


def test_strings_of_another_text_or_kind_are_not_the_kept_ones(cache: Path, reader: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    split, trie = Reading("split"), Reading("trie")
    assert recache.strings("a|b", -1, split, str(reader)) == ("split", "a", "b")
    assert recache.strings("a|b", -2, trie, str(reader)) == ("trie", "a", "b")  # the same text, another reading
    assert recache.strings("a|c", -1, split, str(reader)) == ("split", "a", "c")  # another text, the same reading
    recache.save()
    fresh_process(monkeypatch)
    assert recache.strings("a|c", -1, Reading("split"), str(reader)) == ("split", "a", "c")
    assert recache.strings("a|b", -2, Reading("trie"), str(reader)) == ("trie", "a", "b")
    assert recache.strings("a|d", -2, trie, str(reader)) == ("trie", "a", "d")
    assert trie.asked == ["a|b", "a|d"]


def test_strings_are_derived_again_when_their_module_changed(cache: Path, reader: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert recache.strings("a|b", -1, Reading("split"), str(reader)) == ("split", "a", "b")
    recache.save()
    reader.write_text("# a reading of texts, changed: it may read them otherwise now\n")
    fresh_process(monkeypatch)
    changed = Reading("changed")
    assert recache.strings("a|b", -1, changed, str(reader)) == ("changed", "a", "b")
    assert changed.asked == ["a|b"]


@pytest.mark.parametrize(
    "damage",
    [marshal.dumps(frozenset({"a"})), marshal.dumps(("a", 1)), marshal.dumps([1, 2]), b"\xff not marshal"],
    ids=["literals", "not all strings", "a list", "not marshal"],
)
def test_damaged_strings_are_derived_again(cache: Path, reader: Path, monkeypatch: pytest.MonkeyPatch, damage: bytes) -> None:
    recache.strings("a|b", -1, Reading("split"), str(reader))
    recache.save()
    _, compiled, stamp, literals = marshal.loads(cache.read_bytes())
    literals[("a|b", -1)] = damage
    cache.write_bytes(marshal.dumps((recache._INTERPRETER, compiled, stamp, literals)))
    fresh_process(monkeypatch)
    again = Reading("again")
    assert recache.strings("a|b", -1, again, str(reader)) == ("again", "a", "b")
    assert again.asked == ["a|b"]


def test_a_kind_of_strings_never_takes_a_regexs_flags(cache: Path, reader: Path) -> None:
    for kind in (0, int(re.I)):
        with pytest.raises(ValueError, match="negative"):
            recache.strings("a|b", kind, Reading("split"), str(reader))


def test_prefilters_kept_readings_are_the_ones_it_derives(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = r"no such (?:user|mailbox)|user unknown|[|]x"
    plain = ["user unknown", "no such user", "mailbox", "user"]
    fed = [*plain, "line\nfeed", "line"]  # a word holding a line feed, which joins the words in the trie's key
    for _ in range(2):  # derived and kept, then read back in the next process
        assert prefilter.top_branches(source) == [r"no such (?:user|mailbox)", "user unknown", "[|]x"]
        for words in (plain, fed):
            scan = prefilter.LiteralScan(words)
            for text in ["no such user unknown", "a line\nfeed", "line feed", "mailbox", "nothing"]:
                assert scan.found(text) == {w for w in words if w in text}, text
        recache.save()
        fresh_process(monkeypatch)
    kept = marshal.loads(cache.read_bytes())[3]
    assert (source, prefilter._BRANCHES) in kept
    assert [key for key in kept if key[1] == prefilter._TRIE] == [("\n".join(sorted(plain)), prefilter._TRIE)]


def test_a_kept_split_that_is_not_its_sources_is_derived_again(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = r"no such (?:user|mailbox)|user unknown"
    assert prefilter.top_branches(source) == [r"no such (?:user|mailbox)", "user unknown"]
    recache.save()
    table = marshal.loads(cache.read_bytes())
    table[3][(source, prefilter._BRANCHES)] = marshal.dumps(("user unknown",))  # well-formed, but another source's (a damaged file)
    cache.write_bytes(marshal.dumps(table))
    fresh_process(monkeypatch)
    assert prefilter.top_branches(source) == [r"no such (?:user|mailbox)", "user unknown"]


def test_another_process_entries_are_merged(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recache.compile("first")
    recache.save()
    fresh_process(monkeypatch)
    recache.compile("second")
    recache.save()
    kept = marshal.loads(cache.read_bytes())[1]
    assert {("first", 0), ("second", 0)} <= set(kept)


def test_the_cache_lives_beside_the_core_bytecode() -> None:
    path = recache.cache_path()
    assert path is not None and recache.__cached__ is not None
    assert os.path.dirname(path) == os.path.dirname(recache.__cached__)
    assert os.path.basename(path) == f"regexes.{sys.implementation.cache_tag}-{recache.interpreter_tag()}.marshal"


def test_two_builds_of_one_python_version_keep_two_files(monkeypatch: pytest.MonkeyPatch) -> None:
    # A distribution's 3.11 and a pyenv 3.11 sharing one source tree must not overwrite each other's file.
    here = recache.cache_path()
    monkeypatch.setattr(recache, "_INTERPRETER", (*recache._INTERPRETER[:1], "3.11.2 (another build)", *recache._INTERPRETER[2:]))
    other = recache.cache_path()
    assert here is not None and other is not None and here != other
    assert os.path.dirname(here) == os.path.dirname(other)


def test_serving_re_compile_gives_re_compiles_patterns_and_puts_it_back(cache: Path) -> None:
    original = re.compile
    with recache.serving_re_compile():
        assert re.compile is not original
        with recache.serving_re_compile():  # nested: the outer one's stand-in stays, and the inner end keeps it
            pass
        assert re.compile is not original
        made = re.compile(r"(?P<user>[^@]+)@(\w+)", re.I)
        assert re.compile(rb"\d+") == original(rb"\d+")  # bytes: re's own
        assert re.compile(made) is made  # a Pattern: returned as re returns it
        with pytest.raises(re.error):
            re.compile("(unclosed")
    assert re.compile is original
    assert made == original(r"(?P<user>[^@]+)@(\w+)", re.I) and made.groupindex == {"user": 1}
    assert ((r"(?P<user>[^@]+)@(\w+)", int(re.I))) in recache._state.new_compiled  # kept for the next process
    with pytest.raises(ZeroDivisionError), recache.serving_re_compile():
        1 / 0  # noqa: B018
    assert re.compile is original  # put back when the import inside fails too


# A fresh interpreter runs flufl.bounce the way the parser first does (maild.reports.flufl_scan), with the cache in
# a temporary file, and says how many patterns re compiled from source while it imported flufl.bounce.
FLUFL_PROBE = (
    "import sys, email; from maild.core import recache; recache.cache_path = lambda: sys.argv[1];"
    " recache._LOAD_AFTER = 0; from maild.reports import flufl_scan; import re._compiler as c; made = [];"
    " real = c.compile; c.compile = lambda p, flags=0: made.append(p) or real(p, flags);"
    " msg = email.message_from_string('From: a@b.example\\nSubject: x\\n\\nhello\\n');"
    " print(flufl_scan.all_failures(msg, ['hello']), len(made), 'flufl.bounce._scan' in sys.modules); recache.save()"
)


def test_flufl_bounces_patterns_are_compiled_once_per_cache(tmp_path: Path) -> None:
    cache = tmp_path / "regexes.marshal"

    def probe() -> list[str]:
        run = subprocess.run([sys.executable, "-c", FLUFL_PROBE, str(cache)], capture_output=True, text=True, check=True)
        return run.stdout.split()

    first = probe()
    second = probe()
    assert first[-1] == second[-1] == "True"
    assert first[:-2] == second[:-2]  # the same (empty) answer
    assert int(first[-2]) > 100  # flufl.bounce's detectors' tables, compiled by re and kept
    assert int(second[-2]) < int(first[-2]) // 10  # the next process makes them from the file


def test_leftmost_uses_the_requirements_an_earlier_process_read_from_its_first_search(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from maild.core import reason_rules

    command = reason_rules._COMMAND
    texts = ["for rcpt in reply to data", "[data] did not like our mail", ">>> data after end of rcpt", "--smtp command rcpt", ""]

    def searched_from_its_first_search() -> bool:
        """A new Leftmost in this process: whether its first search already uses the other requirements."""
        split = prefilter.Leftmost(command)
        for text in texts:
            assert _spans(split.search(text)) == _spans(command.search(text)), text
        assert split._split is not None
        return any(len(needs) > 1 for needs, _ in split._split)

    assert not searched_from_its_first_search()  # nothing kept yet: read on the _NEEDS_FROM-th search, as before
    reader = prefilter.Leftmost(command)
    for _ in range(prefilter._NEEDS_FROM):
        reader.search("after rcpt")
    recache.save()
    fresh_process(monkeypatch)
    assert searched_from_its_first_search()  # kept by the process that read them

    table = marshal.loads(cache.read_bytes())
    needs_keys = [key for key in table[3] if key[1] == prefilter._NEEDS]
    assert needs_keys
    for key in needs_keys:  # damaged: each set's size is no longer a size
        table[3][key] = marshal.dumps(("many", "rcpt"))
    cache.write_bytes(marshal.dumps(table))
    fresh_process(monkeypatch)
    assert not searched_from_its_first_search()
    later = prefilter.Leftmost(command)
    for _ in range(prefilter._NEEDS_FROM):
        later.search("after rcpt")
    assert later._split is not None and any(len(needs) > 1 for needs, _ in later._split)  # read again

    cache.unlink()
    fresh_process(monkeypatch)
    assert not searched_from_its_first_search()  # no cache: as before


def _spans(match: re.Match[str] | None) -> object:
    return None if match is None else (match.span(), [g for g in match.groups() if g is not None])
