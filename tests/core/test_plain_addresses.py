"""core.syntax.plain_address_pairs reads a plain address list to exactly what email.utils.getaddresses reads.

The expected answers are the stdlib's own, never maild's: over random header values made of address syntax
(quotes, comments, brackets, dots, commas, line breaks, non-ASCII), over every helpdesk fixture's address
headers and over the address headers of the bounce corpus (when present)."""

from __future__ import annotations

import random
from email import message_from_bytes, policy
from email.utils import getaddresses
from pathlib import Path

import pytest

from maild.core.syntax import address_pairs, plain_address_pairs
from tests.presets import helpdesk_mail
from tests.reports.conftest import corpus_root

PIECES = ["a", "b.c", "x", "@", "<", ">", ",", " ", "  ", "\t", ".", '"', "(", ")", "Bob", "Smith", "=?utf-8?q?B=C3=A9?=",
          "é", "'", "-", "_", ":", ";", "[", "]", "\\", "a@b.c", "<a@b.c>", "Bob <x@y.z>", "\r\n ", "+", "g:", "#"]
FIELDS = ("From", "To", "Cc", "Reply-To", "Sender")


def test_random_header_values_read_as_the_stdlib_reads_them():
    rnd = random.Random(20261202)
    plain = 0
    for _ in range(8_000):
        values = ["".join(rnd.choice(PIECES) for _ in range(rnd.randint(0, 8))) for _ in range(rnd.randint(0, 3))]
        expected = getaddresses(values)
        if plain_address_pairs(values) is not None:
            plain += 1
        assert address_pairs(values) == expected, values
    assert plain > 800  # the plain path was taken often enough for the comparison to mean something


@pytest.mark.parametrize("value", ["<customer@example.net>", "customer@example.net", "Agent Smith <agent@helpdesk.example.com>",
                                   "  Bob \t Smith\t<B.Smith+x@Example.NET> ", "a@b.c, Bob <d@e.f>,g@h",
                                   "=?utf-8?q?J=C3=B6rg?= <j@example.de>"])
def test_common_forms_take_the_plain_path(value):
    assert plain_address_pairs([value]) == getaddresses([value])
    assert plain_address_pairs([value]) is not None


@pytest.mark.parametrize("value", ['"Smith, Bob" <b@example.net>', "Bob (desk) <b@example.net>", "J. Smith <j@x.y>",
                                   "undisclosed-recipients:;", "a@b.c,", "<a@[127.0.0.1]>", "Bob <a@b.c", "", " "])
def test_anything_else_goes_to_the_stdlib(value):
    assert plain_address_pairs([value]) in (None, [])
    assert address_pairs([value]) == getaddresses([value])


def header_values(raw: bytes) -> list[list[str]]:
    msg = message_from_bytes(raw, policy=policy.compat32)
    return [[str(v) for v in msg.get_all(name, [])] for name in FIELDS]


def test_every_helpdesk_fixture_reads_the_same():
    for make in helpdesk_mail.ALL:
        for values in header_values(make().raw):
            assert address_pairs(values) == getaddresses(values), (make.__name__, values)


def test_the_corpus_address_headers_read_the_same():
    root = corpus_root()
    files = [p for p in root.rglob("*") if p.is_file() and p.suffix in (".eml", ".txt", "")] if root.is_dir() else []
    if not files:
        pytest.skip(f"corpus not found at {root} (set MAILD_CORPUS)")
    compared = 0
    for path in files:
        for values in header_values(Path(path).read_bytes()):
            if values:
                compared += 1
                assert address_pairs(values) == getaddresses(values), (path, values)
    assert compared > 0
