"""Pure header surgery (maild.rewrite), table-driven."""

from __future__ import annotations

import pytest

from maild import rewrite


@pytest.mark.parametrize(
    "raw",
    [
        b"A: 1\r\nB: 2\r\n\r\nbody\r\n",
        b"A: 1\nB: 2\n\nbody\n",
        b"A: 1\r\n\r\n",
        b"A: 1\r\n",
        b"",
        b"\r\nbody only\r\n",
        b"A: 1\r\n folded\r\n\r\n\r\nbody with blank first\r\n",
    ],
)
def test_split_then_concatenate_gives_the_input_back(raw):
    headers, rest = rewrite.split_message(raw)
    assert headers + rest == raw


def test_strip_removes_folded_fields_whole_and_keeps_the_rest():
    headers = b"X-Ticket-ID: 1\r\n  continued\r\nSubject: s\r\nx-ticket-id: 2\r\n"
    assert rewrite.strip(headers, ["X-Ticket-ID"]) == b"Subject: s\r\n"


@pytest.mark.parametrize(
    "headers",
    [
        b"X-Ticket-ID: 1\r\n  continued\r\nSubject: s\r\nx-ticket-id: 2\r\n",
        b" a leading continuation\r\nBcc: <a@b>\r\nTo: <c@d>\r\n",
        b"To: <c@d>\nbcc: <a@b>\n\tfolded\n",
        b"",
    ],
)
@pytest.mark.parametrize("names", [["X-Ticket-ID"], ["bcc", "Subject"], []])
def test_strip_of_parsed_fields_gives_the_bytes_strip_of_the_block_gives(headers, names):
    assert rewrite.strip(list(rewrite.fields(headers)), names) == rewrite.strip(headers, names)


def test_prepend_uses_the_blocks_line_end():
    assert rewrite.prepend(b"A: 1\n", [("B", "2")]) == b"B: 2\nA: 1\n"
    assert rewrite.prepend(b"A: 1\r\n", [("B", "2")]) == b"B: 2\r\nA: 1\r\n"


def test_encoded_words_are_decoded():
    assert rewrite.get(b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n", "subject") == "Grüße"


def test_broken_encoded_word_does_not_raise():
    assert rewrite.get(b"Subject: =?bogus?x?zz?=\r\n", "subject") == "=?bogus?x?zz?="


def test_prepend_puts_several_fields_in_order_each_with_its_line_end():
    assert rewrite.prepend(b"A: 1\r\n", [("B", "2"), ("C", "3")]) == b"B: 2\r\nC: 3\r\nA: 1\r\n"
    assert rewrite.prepend(b"", [("B", "2")]) == b"B: 2\r\n"  # an empty block: CRLF, as SMTP wants


def test_line_end_is_sniffed_from_the_first_2000_bytes():
    # A CRLF that starts inside the window but ends after it does not count; one wholly inside does.
    assert rewrite.line_end(b"X: " + b"a" * 1996 + b"\r\n") == b"\n"  # the CR is byte 1999, the LF byte 2000
    assert rewrite.line_end(b"X: " + b"a" * 1995 + b"\r\n") == b"\r\n"
    assert rewrite.line_end(b"A: 1\nB: 2\n") == b"\n"


@pytest.mark.parametrize(
    "raw",
    [
        b"Subject: one line\r\n",
        b"Subject: folded\r\n  twice\r\n\tand a tab\r\n",
        b"Subject: bare LF\n fold\n",
        b"Subject: a CR alone\r stays\r\n",
        b"Subject: a line end without blank\r\nis not a fold\r\n",
        b"Subject:\r\n =?utf-8?q?caf=C3=A9?=\r\n",
    ],
)
def test_value_unfolds_exactly_where_the_fold_pattern_matches(raw):
    # the value reads only fields with a fold through the regex: its answer must be the regex's on every field
    import re

    _, _, value = raw.partition(b":")
    text = re.sub(rb"\r?\n[ \t]", b" ", value).strip().decode("utf-8", "replace")
    expected = str(rewrite.make_header(rewrite.decode_header(text))) if "=?" in text else text
    assert rewrite.Field("Subject", raw).value == expected
