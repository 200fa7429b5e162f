"""flufl_scan.all_failures answers what flufl.bounce.all_failures answers, its pattern sets pruned or not."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

pytest.importorskip("flufl.bounce")

from flufl.bounce import all_failures as library_all_failures  # noqa: E402
from flufl.bounce._detectors.simplematch import PATTERNS as SIMPLE_PATTERNS  # noqa: E402
from flufl.bounce._detectors.simplewarning import PATTERNS as WARNING_PATTERNS  # noqa: E402

from maild.reports import flufl_scan, mimetree  # noqa: E402


@pytest.fixture()
def pruning(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the calls that run flufl.bounce unpruned: every call below prunes."""
    monkeypatch.setattr(flufl_scan, "_calls", flufl_scan._DERIVE_FROM)
    assert flufl_scan._derive() is not None, "flufl.bounce is not the layout flufl_scan prunes: the tests below would not prune"


def _payloads(raw: bytes) -> tuple[object, list[str]]:
    msg = mimetree.parse_bytes(raw)
    return msg, [p for p in (part.get_payload() for part in msg.walk()) if isinstance(p, str)]


def _both(raw: bytes) -> tuple[object, object]:
    msg, payloads = _payloads(raw)
    return flufl_scan.all_failures(msg, payloads), library_all_failures(mimetree.parse_bytes(raw))


def _corpus_messages(corpus: Path) -> list[bytes]:
    bounces = corpus / "bounces"
    return [f.read_bytes() for f in sorted(bounces.glob("sisimai/*/*.eml")) + sorted(bounces.glob("flufl/*.txt"))]


def test_the_corpus_gets_the_library_s_answers(corpus: Path, pruning: None) -> None:
    found = 0
    for raw in _corpus_messages(corpus):
        ours, library = _both(raw)
        assert ours == library
        found += bool(ours[0] or ours[1])  # type: ignore[index]
    assert found > 50  # the comparison covers messages where a detector finds something, not only empty answers


def _start_line(pattern: str) -> str:
    """A line the start pattern matches (its literal text, the few regex spellings the sets use written out)."""
    text = pattern.replace("\\s*", " ").replace("\\(", "(").replace("\\)", ")").replace("\\'", "'").replace("\\.", ".").lstrip("^").rstrip("$")
    return text.replace("Del(i|e)very", "Delivery").replace("(failed|was aborted)", "failed").split("(?P")[0]


def test_each_pattern_set_answers_as_the_library_with_its_start_line_in_any_case(pruning: None) -> None:
    rnd = random.Random(7)
    for scre, _ecre, _acre in SIMPLE_PATTERNS + WARNING_PATTERNS:
        start = _start_line(scre.pattern)
        assert scre.search(start), start
        for spelled in (start, start.upper(), "".join(c.upper() if rnd.random() < 0.5 else c for c in start)):
            raw = (
                "From: MAILER-DAEMON@example.net\nSubject: failure\n\n"
                f"{spelled}\n\n  <ann@example.com>\n  bob@example.org: no such user\n"
                "Intended recipient: carol@example.com\nReason: gone\n"
            ).encode()
            ours, library = _both(raw)
            assert ours == library, spelled


def test_a_text_with_a_folding_letter_is_searched_unpruned(pruning: None) -> None:
    # "\u212a" (Kelvin) matches "k" under re.I: the lower-cased copy would miss it, so nothing is pruned.
    raw = "From: x@example.net\nSubject: s\n\nThe following addresses had permanent errors (\u212a)\n  <ann@example.com>\n".encode()
    ours, library = _both(raw)
    assert ours == library


def test_a_detector_that_raises_is_logged_and_raised_as_the_library_does(monkeypatch: pytest.MonkeyPatch, pruning: None,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    from flufl.bounce import _scan

    class Raises:
        def process(self, msg: object) -> object:
            raise RuntimeError("a detector's bug")

    monkeypatch.setattr(_scan, "_DETECTORS", [Raises])
    msg, payloads = _payloads(b"Subject: x\n\nbody\n")
    with pytest.raises(RuntimeError):
        flufl_scan.all_failures(msg, payloads)
    assert any(r.name == "flufl.bounce" and "Exception in detector" in r.getMessage() for r in caplog.records)


def test_prepare_derives_ahead_so_the_first_call_already_prunes(monkeypatch: pytest.MonkeyPatch) -> None:
    # reports.firstuse calls it in the parent of the parse children: each child's first bounce is pruned too.
    from flufl.bounce._detectors.simplematch import SimpleMatch

    monkeypatch.setattr(flufl_scan, "_calls", 0)
    monkeypatch.setattr(flufl_scan, "_starts", None)
    flufl_scan.prepare()
    seen: list[int] = []  # how many pattern sets each run of the two line-pattern detectors had
    real = SimpleMatch.process

    def process(self: SimpleMatch, msg: object) -> object:
        seen.append(len(self.PATTERNS))
        return real(self, msg)  # type: ignore[arg-type]

    monkeypatch.setattr(SimpleMatch, "process", process)
    raw = b"From: MAILER-DAEMON@example.net\nSubject: failure notice\n\nSorry, it did not work out.\n"
    ours, library = _both(raw)
    assert ours == library
    # SimpleMatch's and SimpleWarning's (a subclass) sets: ours pruned on its first call, the library's whole.
    ours_sets, library_sets = seen[:2], seen[2:]
    assert library_sets == [len(SIMPLE_PATTERNS), len(WARNING_PATTERNS)]
    assert all(o < whole for o, whole in zip(ours_sets, library_sets, strict=True))
