"""mimetree builds the tree the stdlib's compat32 parser builds: the same parts, headers, payloads, preambles, epilogues and defects."""

from __future__ import annotations

import email
import random
from email._policybase import compat32
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from maild.reports import mimetree

DATA = Path(__file__).resolve().parents[1] / "data"


def _shape(msg: Message) -> tuple[Any, ...]:
    """Everything a Message holds after parsing, its parts included (the defects by type and text)."""
    state = msg.__dict__
    payload = state["_payload"]
    if isinstance(payload, list):
        payload = [_shape(part) for part in payload]
    defects = tuple((type(d).__name__, str(d), getattr(d, "line", None)) for d in state["defects"])
    return (
        tuple(state["_headers"]), state["_unixfrom"], payload, state["_charset"], state["preamble"], state["epilogue"],
        defects, state["_default_type"], state["policy"] is compat32,
    )


def _stdlib(raw: bytes) -> tuple[Any, ...] | str:
    try:
        return _shape(email.message_from_bytes(raw, policy=compat32))
    except RecursionError:
        return "RecursionError"


def _ours(raw: bytes) -> tuple[Any, ...] | str:
    try:
        return _shape(mimetree.parse_bytes(raw))
    except RecursionError:
        return "RecursionError"


# Pieces of MIME structure and of its malformed forms, joined at random: boundaries with and without their closing
# dashes, spaces or line ends; CR, LF and CRLF line ends; misplaced "From " lines, a header without a name,
# continuation lines first, 8-bit bytes, the line breaks str.splitlines() knows and the email parser does not.
_PIECES = [
    b"Content-Type: multipart/mixed; boundary=x\n", b'Content-Type: multipart/mixed; boundary="y"\r\n',
    b"Content-Type: message/delivery-status\n", b"Content-Type: message/rfc822\n", b"Content-Type: multipart/digest; boundary=x\n",
    b"Content-Type: multipart/alternative\n", b"Content-Transfer-Encoding: base64\n", b"Content-Type: text/plain\n\n",
    b"\n", b"\r\n", b"\r", b"\n\n", b"--x\n", b"--x--\n", b"--y\r\n", b"--y--  \r\n", b"--x \t\n", b"--x", b"--x--", b"--xy\n", b"--", b"-",
    b"From foo\n", b"From: a@b\n", b" cont\n", b"\tcont\r\n", b":bad\n", b"a: b\n", b"MIME-Version: 1.0\n", b"text line\n",
    b"\x80\xff\n", b"\v\f\x1c\n", b"Subject: x\r", b"Final-Recipient: rfc822; a@b\n",
    # Types in any case, more than one per part (the first counts), 8-bit ones; header lines that start like a
    # boundary; "From " inside a value.
    b"content-type: multipart/mixed; boundary=x\n", b"CONTENT-TYPE: message/delivery-status\n", b"Content-Type: text/\xe9\n",
    b"Content-type: message/rfc822\r\n", b"--x: y\n", b"-a: b\n", b"Subject: From here\n", b"From: x\n From y\n",
    # Header lines told from others without _HEADER (mimetree's read_headers): values of white space only or none,
    # continuations of white space, a field without a line end, CR before CRLF, 8-bit bytes, a control character
    # or a space in a name.
    b"A:   \n", b"A:\n", b"A:\t \r\n \r\n", b"A: b\r\n c\r\n", b"A: b", b"X-\x80: y\n", b"A:b\r\r\n", b" \n", b"B :x\n",
    b"A: \xe9\r\n", b"A\x7f: b\n", b"\x01B: c\n", b"From x: y\n",
]


def _generated(seed: int, count: int, files: list[bytes]) -> list[bytes]:
    rnd = random.Random(seed)
    out = [b"".join(rnd.choice(_PIECES) for _ in range(rnd.choice([3, 10, 30, 100]))) for _ in range(count)]
    for _ in range(count // 4):  # real messages with pieces cut out, pasted in or repeated
        raw = bytearray(rnd.choice(files))
        for _ in range(rnd.randint(1, 8)):
            if not raw:
                break
            at, op = rnd.randrange(len(raw)), rnd.random()
            if op < 0.4:
                del raw[at : at + rnd.randint(1, 50)]
            elif op < 0.7:
                raw[at:at] = rnd.choice(_PIECES)
            else:
                start = rnd.randrange(len(raw))
                raw[at:at] = raw[start : start + rnd.randint(1, 200)]
        out.append(bytes(raw))
    return out


def _fixtures() -> list[bytes]:
    return [p.read_bytes() for p in sorted(DATA.rglob("*")) if p.is_file() and p.suffix in (".eml", ".txt")]


def test_the_fixtures_give_the_stdlib_tree() -> None:
    files = _fixtures()
    assert len(files) > 50, "the fixtures are the test's input"
    for raw in files:
        assert _ours(raw) == _stdlib(raw)


def test_the_corpus_gives_the_stdlib_tree(corpus: Path) -> None:
    files = [p.read_bytes() for p in sorted(corpus.rglob("*")) if p.is_file()]
    for raw in files:
        assert _ours(raw) == _stdlib(raw)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_and_mangled_input_gives_the_stdlib_tree(seed: int) -> None:
    inputs = _generated(seed, 2000, _fixtures())
    differ = [raw for raw in inputs if _ours(raw) != _stdlib(raw)]
    assert not differ, f"{len(differ)} inputs differ, the shortest: {min(differ, key=len)[:300]!r}"
    defects = {d[0] for raw in inputs if isinstance(s := _stdlib(raw), tuple) for d in s[6]}
    # The input reaches the malformed paths, or the comparison would check only the easy ones.
    assert {"StartBoundaryNotFoundDefect", "CloseBoundaryNotFoundDefect", "MissingHeaderBodySeparatorDefect"} <= defects


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("--b\n", (False, "\n")),
        ("--b--\r\n", (True, "\r\n")),
        ("--b-- \t\r", (True, "\r")),
        ("--b", (False, None)),
        ("--b--", (True, None)),
        ("--bc\n", None),
        ("--b --\n", None),
        ("--b-- x\n", None),
        ("-b\n", None),
    ],
)
def test_boundary_lines_are_read_as_the_stdlib_pattern_reads_them(line: str, expected: tuple[bool, str | None] | None) -> None:
    assert mimetree.boundary(line, "--b") == expected


@pytest.mark.parametrize("breaks", ["\x85", "\u2028", "\u2029", "\v", "\f", "\x1c\x1d\x1e", "é"])
def test_decoded_text_is_split_at_the_line_ends_the_stdlib_splits_at(breaks: str) -> None:
    # parse_text also reads text decoded from a part (an attached message in base64): str.splitlines would split
    # it at more characters than the email parser does.
    text = f"Subject: a{breaks}b\nContent-Type: multipart/mixed; boundary=x\n\n--x\nX: 1{breaks}--x\n\nbody{breaks}\n--x--\n"
    ours = _shape(mimetree.parse_text(text))
    assert ours == _shape(email.message_from_string(text, policy=compat32))


def test_nesting_too_deep_raises_recursion_error_as_the_stdlib_does() -> None:
    raw = b"Content-Type: message/rfc822\n\n" * 5000 + b"body\n"
    assert _ours(raw) == _stdlib(raw) == "RecursionError"


# Pieces of Content-Type values, the awkward ones included: quotes (balanced or not, around a ';'), angle brackets,
# empty and repeated names, names in capitals, a bare attribute, the escapes and RFC 2231 '*' that go to the stdlib.
_TYPE_PIECES = [
    "multipart/mixed", "text/plain", "TEXT/Plain", ";", "; ", " ;", "=", '"', "<", ">", " ", "\t", "boundary", "BOUNDARY",
    "Boundary ", "charset", "report-type", "name", "x", "a;b", '"a;b"', '"q"', "<v>", '""', "\\", '\\"', "*", "*0*", "é",
    "delivery-status", "us-ascii",
]


def _type_values(seed: int, count: int) -> list[str]:
    rnd = random.Random(seed)
    return [
        "".join(rnd.choice(_TYPE_PIECES) for _ in range(rnd.choice([1, 3, 6, 12, 25]))) for _ in range(count)
    ]


def _corpus_types(corpus: Path) -> list[str]:
    values: list[str] = []
    for path in sorted(corpus.rglob("*")):
        if path.is_file():
            for part in mimetree.parse_bytes(path.read_bytes()).walk():
                values += [str(v) for v in part.get_all("content-type", [])]
    return values


@pytest.mark.parametrize("seed", [1, 2])
def test_content_type_parameters_are_what_get_param_returns(seed: int, corpus: Path) -> None:
    values = _type_values(seed, 3000) + _corpus_types(corpus)
    fast = 0
    for value in values:
        msg = Message()
        msg["Content-Type"] = value
        pairs = mimetree.content_params(msg)
        assert mimetree.boundary_of(msg) == msg.get_boundary(), value
        if pairs is None:
            continue
        fast += 1
        names = {name for name, _ in pairs} | {"boundary", "charset", "report-type", "missing"}
        for name in names | {n.upper() for n in names}:
            expected = msg.get_param(name)
            got = next((v for k, v in pairs if k.lower() == name.lower()), None)
            assert got == expected, (value, name)
    assert fast > len(values) // 2, "most values take the fast reading, or the comparison checks only the fallback"


def _head(msg: Message) -> tuple[Any, ...]:
    """What a header-only read holds: the fields, the unixfrom and the defects found in the header block."""
    state = msg.__dict__
    return tuple(state["_headers"]), state["_unixfrom"], tuple((type(d).__name__, str(d)) for d in state["defects"])


def test_the_header_block_is_read_as_the_stdlib_header_parser_reads_it(corpus: Path) -> None:
    # receipts.authn reads a token-less report's Authentication-Results through parse_head, not email.parser.
    from email.parser import BytesHeaderParser

    files = _fixtures() + [p.read_bytes() for p in sorted(corpus.rglob("*")) if p.is_file()]
    files += _generated(4, 400, files[:40]) + [b"", b"\n", b"From x\nA: 1\n", b"A: 1\n  2\r\nno colon\n\nB: 2\n", b"\xff: \xfe\n\n"]
    for raw in files:
        assert _head(mimetree.parse_head(raw)) == _head(BytesHeaderParser(policy=compat32).parsebytes(raw, headersonly=True))
