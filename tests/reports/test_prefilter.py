"""The regex pre-checks never change a result: wherever a pattern matches, its literals are found, and searches agree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from maild.core import reason_rules
from maild.reports import bounce, candidates, mime, retrying
from maild.reports.context import Context
from maild.reports.clues import ParseHints
from maild.core import prefilter
from maild.core.prefilter import cannot_match_ci, might_match, required_literals

_CHECKED = [p for _, p in reason_rules.compiled_rules()] + [
    bounce._RETURNED_MARKER, retrying._KEEPS_TRYING, retrying._GAVE_UP, candidates._ENVELOPE_SENDER, candidates._MESSAGE_ID,
    *candidates._STRUCTURAL, candidates._EXPANDED, candidates._ORIGINAL_ADDRESS,
]


def _texts(root: Path) -> list[str]:
    files = sorted((root / "bounces").rglob("*.eml")) + sorted((root / "bounces").rglob("*.txt")) + sorted((root / "postfix-dsn").glob("*.eml"))
    out = []
    for path in files:
        msg, _ = mime.parse(path.read_bytes())
        out.append(Context(msg, ParseHints(), mime.Budget(5.0), []).body_text[:60000])
    return out


def test_literals_read_from_patterns() -> None:
    assert required_literals(re.compile(r"virus|worm detected")) == {"virus", "worm detected"}
    assert required_literals(re.compile(r"copy of (?:the|your) message")) == {"copy of the message", "copy of your message"}
    assert required_literals(re.compile(r"\bspam\b|x?", re.I)) is None  # an empty match needs no literal
    assert required_literals(re.compile(r"\w+@\w+")) == {"@"}


@pytest.mark.parametrize(
    "text",
    [
        "Will RETRY later",  # the delay-body pattern, case-insensitive
        "452 4.2.2 Mailbox full, quota exceeded",  # a reason rule (rules see lowercased, collapsed text)
        "550 5.1.1 User unknown",
        "Meſſage-ID: <x@y>",  # U+017F long s matches "s" under re.I: the literal check must not reject it
        "Message rejected as spam",
    ],
)
def test_prefilter_never_rejects_a_match(text: str) -> None:
    matched = 0
    lowered = " ".join(text.lower().split())  # what the reason rules are searched in
    for _, pattern in reason_rules.compiled_rules():
        if pattern.search(lowered):
            matched += 1
            assert might_match(required_literals(pattern), lowered), pattern.pattern[:40]
    for pattern in _CHECKED[len(reason_rules.compiled_rules()):]:
        if pattern.search(text):
            matched += 1
            assert not cannot_match_ci(required_literals(pattern), text), pattern.pattern[:40]
    assert matched, "each case must match at least one pattern, or it checks nothing"


def test_prefilter_agrees_on_the_corpus(corpus: Path) -> None:
    for text in _texts(corpus):
        lowered = " ".join(text[:4000].lower().split())
        for _, pattern in reason_rules.compiled_rules():
            if pattern.search(lowered):
                assert might_match(required_literals(pattern), lowered), pattern.pattern[:40]
        for pattern in _CHECKED[len(reason_rules.compiled_rules()):]:
            if pattern.search(text):
                assert not cannot_match_ci(required_literals(pattern), text), pattern.pattern[:40]
        expected = bounce._RETURNED_MARKER.search(text)
        found = bounce._returned_marker(text)
        assert (found and found.span()) == (expected and expected.span())


def _first_rule_whole(sample: str, last: int | None = None) -> object:
    """The first text rule whose whole pattern matches: what the split, pre-checked search must find."""
    rules = reason_rules._RULES if last is None else reason_rules._RULES[: last + 1]
    return next((rule.reason for rule in rules if rule.compiled().search(sample)), None)


def test_rules_split_at_their_alternatives_find_the_same_reason(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reason_rules, "_scan", None)  # built already when earlier tests parsed enough samples
    reason_rules._derive_prefilters()
    assert sum(rule.branches is not None for rule in reason_rules._RULES) >= 5, "the split must be in use, or this checks nothing"
    for rule in reason_rules._RULES:  # the split keeps every character of the pattern
        branches = prefilter.top_branches(rule.source)
        assert branches is None or "|".join(branches) == rule.source
    samples = []
    for text in _texts(corpus):
        lowered = " ".join(text[:4000].lower().split())
        samples.append(lowered)
        samples += [" ".join(line.lower().split()) for line in text[:4000].splitlines() if line.strip()]
    matched = 0
    for scanned in (False, True):  # word by word, then behind the one-pass scan of every rule's words
        if scanned:
            reason_rules._derive_scan()
        assert (reason_rules._scan is not None) is scanned
        for sample in samples:
            expected = _first_rule_whole(sample)
            matched += expected is not None
            assert reason_rules._match_rules(sample, None) == expected, sample[:200]
            assert reason_rules._match_rules(sample, 10) == _first_rule_whole(sample, 10), sample[:200]
    assert matched > 200, "the samples must reach the rules, or the comparison checks nothing"


def _rule_words() -> set[str]:
    reason_rules._derive_prefilters()
    words: set[str] = set()
    for rule in reason_rules._RULES:
        if rule.branches is not None:
            words.update(w for ws, _ in rule.branches for w in ws)
        elif rule.literals is not None:
            words.update(rule.literals)
    return words


def test_the_one_pass_scan_finds_exactly_the_words_a_text_holds(corpus: Path) -> None:
    import random

    words = _rule_words()
    scan = prefilter.LiteralScan(words)
    texts = [" ".join(t[:4000].lower().split()) for t in _texts(corpus)]
    # Words run together, overlapping, one inside another, one the prefix of another, cut short, and special characters.
    rnd = random.Random(7)
    pool = sorted(words) + ["too many connections", "client host blocked", "e-mail", "a.b*c", "(x)", "[y]", "\\"]
    for _ in range(300):
        picked = [rnd.choice(pool) for _ in range(rnd.randint(0, 6))]
        glue = rnd.choice(["", " ", "x", "-"])
        text = glue.join(p[: rnd.randint(1, len(p))] if rnd.random() < 0.3 else p for p in picked)
        texts.append(text)
    small = prefilter.LiteralScan(["ab", "abc", "b", "bcd", "a.b*c", "(x)", "[y]", "\\", "ｘ"])
    for text in ["abcd", "xabcdx", "a.b*c", "axb", "((x))", "[[y]]", "\\\\", "ｘｘ", "", "ab abc"]:
        assert small.found(text) == {s for s in ["ab", "abc", "b", "bcd", "a.b*c", "(x)", "[y]", "\\", "ｘ"] if s in text}, text
    found = 0
    for text in texts:
        expected = {w for w in words if w in text}
        found += len(expected)
        assert scan.found(text) == expected, text[:200]
    assert found > 500, "the texts must hold the words, or the comparison checks nothing"
    assert prefilter.LiteralScan([]).found("anything") == set()


@pytest.mark.parametrize(
    ("source", "branches"),
    [
        (r"a[|]b|(c|d)|\||[]|]x|[^]|]y", ["a[|]b", "(c|d)", r"\|", "[]|]x", "[^]|]y"]),
        (r"one", ["one"]),
        (r"(?i)a|b", None),  # a global flag in the first alternative applies to all
        (r"(a)|\1", None),  # a back-reference needs its group
    ],
)
def test_top_level_alternatives(source: str, branches: list[str] | None) -> None:
    assert prefilter.top_branches(source) == branches


_SAID = [retrying._GAVE_UP_SAID, retrying._KEEPS_TRYING_SAID]


def test_alternatives_tried_one_by_one_agree_with_the_whole_search(corpus: Path) -> None:
    texts = [t[:5000] for t in _texts(corpus)]
    texts += [line for t in texts for line in t.splitlines()]
    texts += ["This is a PERMANENT ERROR; I've GIVEN UP.", "Tried 5 Time(s)", "WILL BE RETRIED", "Meſſage will be retried",
              "delivery \u00e9 has FAILED after 3 attempts", ""]
    found = 0
    for said in _SAID:
        for text in texts:
            expected = said.pattern.search(text) is not None
            found += expected
            assert said.found_in(text) is expected, (said.pattern.pattern[:40], text[:200])
    assert all(said._split is not None for said in _SAID), "the split must be in use, or this checks only the whole search"
    assert found > 50


def test_the_returned_marker_tried_at_its_words_lines_is_the_leftmost_match() -> None:
    import random

    rnd = random.Random(3)
    pieces = ["--- Original message ---", "  -- below this line", "original", "Copy of the message follows", "---", "==",
              "text", "\r", "\t", " ", "Content-Type: message/rfc822", "your message reads", "ORIGINAL MESSAGE", "x original"]
    texts = ["\n".join(" ".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 4))) for _ in range(rnd.randint(0, 12)))
             for _ in range(3000)]
    for _ in range(8):  # past the pattern's derivation of its literals, so the line-by-line path is the one tried
        bounce._RETURNED_MARKER.literals()
    assert bounce._RETURNED_MARKER.literals() is not None
    found = 0
    for text in texts:
        expected = bounce._RETURNED_MARKER.search(text)
        got = bounce._returned_marker(text)
        found += expected is not None
        assert (got and got.span()) == (expected and expected.span()), text
    assert found > 500


def _span_and_groups(match: re.Match[str] | None) -> object:
    return None if match is None else (match.span(), [g for g in match.groups() if g is not None])


def test_the_leftmost_alternative_is_the_whole_search(corpus: Path) -> None:
    class _P:
        def __init__(self, source: str, flags: int = 0) -> None:
            self.pattern, self.flags, self.compiled = source, flags, re.compile(source, flags)

        def search(self, text: str) -> re.Match[str] | None:
            return self.compiled.search(text)

        def literals(self) -> prefilter.Literals | None:
            return prefilter.literals_of(self.pattern, self.flags)

    toy = [(r"ab|abc", ["abc", "xabc", "ab abc"]), (r"b(c)|a(b)", ["ab", "bc ab", "abc"]), (r"x(y)|z", ["", "zxy", "xyz"])]
    for source, texts in toy:
        split = prefilter.Leftmost(_P(source))
        for text in texts:
            assert _span_and_groups(split.search(text)) == _span_and_groups(re.search(source, text)), (source, text)
    assert prefilter.Leftmost(_P("a|b", re.I)).search("B") is not None  # re.I: searched whole
    command = reason_rules._COMMAND_SPLIT
    samples = []
    for text in _texts(corpus):
        samples.append(" ".join(text[:4000].lower().split()))
        samples += [" ".join(line.lower().split()) for line in text[:4000].splitlines() if line.strip()]
    samples += ["for rcpt in reply to data", "[data] did not like our mail", ">>> data after end of rcpt", "--smtp command rcpt"]
    found = 0
    for sample in samples:
        expected = reason_rules._COMMAND.search(sample)
        found += expected is not None
        assert _span_and_groups(command.search(sample)) == _span_and_groups(expected), sample[:200]
    assert command._split is not None, "the split must be in use, or this checks only the whole search"
    assert any(len(needs) > 1 for needs, _ in command._split), "and the alternatives' other requirements with it"
    assert found > 100


def test_requirements_are_every_set_a_match_holds_one_of() -> None:
    need = prefilter.requirements_of
    assert need(r"(?:after|for) \w+ (rcpt|mail)\b") == [{"after ", "for "}, {" rcpt", " mail"}]
    assert need(r"(?:after|for) (rcpt|mail)") == [{"after rcpt", "after mail", "for rcpt", "for mail"}]
    assert need(r"in reply to (data|rcpt)") == [{"in reply to "}, {"in reply to data", "in reply to rcpt"}]
    assert need(r"ab(?:x|y)") == [{"abx", "aby"}]  # a common start under three characters is not a set of its own
    assert need(r"\w+") == [] and need(r"a|b", re.I) == []


def test_every_requirement_of_the_command_search_is_in_each_of_its_matches(corpus: Path) -> None:
    branches = prefilter.top_branches(reason_rules._COMMAND.pattern)
    assert branches is not None
    samples = [" ".join(text[:4000].lower().split()) for text in _texts(corpus)]
    matched = 0
    for source in branches:
        needs = prefilter.requirements_of(source)
        assert needs, source
        for sample in samples:
            for match in re.finditer(source, sample):
                matched += 1
                assert all(any(w in match.group(0) for w in words) for words in needs), (source, match.group(0))
    assert matched > 100


def test_line_patterns_found_through_line_feeds_are_the_patterns_own_matches(corpus: Path) -> None:
    import random

    from maild import reports
    from maild.reports import dsn, truncated

    wrapped = [truncated._INLINE, reports._RETURNED_TOKEN_LINE, reports._INLINE_MSGID, dsn._LOOKS_LIKE_STATUS, bounce._PASTED_BLOCK]
    rnd = random.Random(11)
    pieces = ["To: a@b", "  cc: c@d", "\tresent-to: e@f", " continued", "Message-ID: <x@y>", "Final-Recipient: rfc822; a@b",
              "Received: from x", "x-y: z", "Return-Path: <r@s>", "text", "", "\r", "tO :", "Subject: s"]
    texts = [t[:100000] for t in _texts(corpus)]
    texts += ["\n".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 10))) for _ in range(400)]
    texts += ["To: a@b\n", "\nTo: a@b", "x\r\nTo: a@b\r\n  c@d\r\nCc: e@f", "To: a\n To: b\nTo: c", ""]
    seen = 0
    for line_pattern in wrapped:
        assert line_pattern._after_feed is not None or not line_pattern._derived
        whole = re.compile(line_pattern.pattern.pattern, line_pattern.pattern.flags)
        for text in texts:
            expected = [m.span() for m in whole.finditer(text)]
            seen += len(expected)
            assert [m.span() for m in line_pattern.finditer(text)] == expected, (whole.pattern[:40], text[:200])
            for pos in (0, 1, 5, len(text) // 2):
                found, wanted = line_pattern.search(text, pos), whole.search(text, pos)
                assert (found and (found.span(), found.groups())) == (wanted and (wanted.span(), wanted.groups())), (pos, text[:200])
        assert line_pattern._after_feed is not None, "the line-feed form must be in use, or this checks only the whole search"
    assert seen > 500
    # A pattern that could match empty, or is not one ^-led alternative, is searched as it is.
    for source in (r"^[ \t]*$", r"^a|b", r"a^"):
        plain = prefilter.LinePattern(re.compile(source, re.M))
        assert [m.span() for m in plain.finditer("a\n\nb a")] == [m.span() for m in re.finditer(source, "a\n\nb a", re.M)]
        assert plain._after_feed is None


def test_only_four_characters_beyond_ascii_match_an_ascii_one_under_re_i() -> None:
    import sys

    any_ascii = re.compile(r"[\x00-\x7f]", re.I)
    folding = {chr(c) for c in range(0x80, sys.maxunicode + 1) if any_ascii.fullmatch(chr(c))}
    assert folding == {"\u0130", "\u0131", "\u017f", "\u212a"}
    assert all(prefilter._FOLDS_TO_ASCII.fullmatch(c) for c in folding)
    # Lower-casing keeps every other character one character: offsets in the lowered copy are the text's.
    assert {chr(c) for c in range(sys.maxunicode + 1) if len(chr(c).lower()) != 1} <= folding
    assert prefilter.lowered_for_literals("Grüße, RETRY") == "grüße, retry"
    assert prefilter.lowered_for_literals("reſent") is None


def test_found_in_is_search_for_the_readers_boolean_patterns(corpus: Path) -> None:
    from maild.core.lazyre import LazyPattern
    from maild.reports.lhost import courier, exchange, exim, gmail, opensmtpd, postfix, qmail, sendmail, yahoo

    patterns: list[LazyPattern] = [
        courier._BANNER, courier._DELAYED, courier._FAILED, exim._DELAYED, exim._FAILED, opensmtpd._DELAYED, opensmtpd._FAILED,
        gmail._DELAYED, gmail._FAILED, postfix._GREETING, postfix._WARNING, sendmail._WARNING, sendmail._FATAL,
        exchange._DELAYED, exchange._FAILED, qmail._GREETING, yahoo._GREETING, bounce.BOUNCE_SENDER, bounce.BOUNCE_SUBJECT,
        bounce._FAILURE_WORDS,
    ]
    texts = [t[:10000] for t in _texts(corpus)]
    texts += [t[:300] for t in texts] + [line for t in texts[:60] for line in t.splitlines()]
    # Beyond ASCII: with letters that fold to ASCII under re.I (searched whole), and with ones that do not.
    texts += ["DELIVERY HAS FAILED TO THESE RECIPIENTS ü", "Thiſ is the mail system at host x", "undeliverable mail ж",
              "PERMANENT FAILURE \u212a", "Mail Delivery Failed: ß", "mailer-daemon@gmail.com é", ""]
    found = 0
    for pattern in patterns:
        whole = re.compile(pattern.pattern, pattern.flags)
        for text in texts:
            expected = whole.search(text) is not None
            found += expected
            assert pattern.found_in(text) is expected, (pattern.pattern[:40], text[:200])
    assert found > 300


def test_the_provider_code_check_names_every_word_a_match_holds() -> None:
    # reason_for searches for Orange's and La Poste's codes only in samples holding "lpn", "ofr" or "ouk".
    assert prefilter.literals_of(reason_rules._FRANCE_PTT_CODE.pattern) == {"lpn", "ofr", "ouk"}
    assert reason_rules.reason_for("5.5.0", "550 5.5.0 Mail rejected. OFR_416 [416]")[0] == "userunknown"
