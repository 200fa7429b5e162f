"""Pure header surgery and message classification, table-driven."""

from __future__ import annotations

from pathlib import Path

import pytest

from maild import config, rewrite
from maild.intake.classify import classify
from maild.core.events import RecipientKind

POLICY = config.parse({}, Path("/tmp/maild.toml")).tracking


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


def test_prepend_uses_the_blocks_line_end():
    assert rewrite.prepend(b"A: 1\n", [("B", "2")]) == b"B: 2\nA: 1\n"
    assert rewrite.prepend(b"A: 1\r\n", [("B", "2")]) == b"B: 2\r\nA: 1\r\n"


def test_encoded_words_are_decoded():
    assert rewrite.get(b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n", "subject") == "Grüße"


def test_broken_encoded_word_does_not_raise():
    assert rewrite.get(b"Subject: =?bogus?x?zz?=\r\n", "subject") == "=?bogus?x?zz?="


MSG = b"From: a@h.example\r\nTo: A <TO@example.net>, x@example.net\r\nCc: cc@example.net, to@example.net\r\nSubject: [#77] hi\r\n\r\nb\r\n"


def test_recipient_kinds_to_beats_cc_and_the_rest_is_bcc():
    c = classify(MSG, "a@h.example", ["to@example.net", "cc@example.net", "hidden@example.net"], POLICY)
    assert [(r.address, r.kind) for r in c.recipients] == [
        ("to@example.net", RecipientKind.TO),
        ("cc@example.net", RecipientKind.CC),
        ("hidden@example.net", RecipientKind.BCC),
    ]


def test_duplicate_envelope_recipients_get_one_copy():
    c = classify(MSG, "a@h.example", ["to@example.net", "TO@example.net"], POLICY)
    assert len(c.recipients) == 1


@pytest.mark.parametrize(
    ("headers", "ticket"),
    [
        (b"X-Ticket-ID: 42\r\nSubject: [#7] x\r\n", "42"),  # the header wins
        (b"Subject: Re: [#7] x\r\n", "7"),
        (b"Subject: no ticket\r\n", None),
        (b"X-Ticket-ID: bad value with spaces\r\nSubject: [#8] x\r\n", "8"),  # unusable header: subject
    ],
)
def test_ticket_discovery(headers, ticket):
    c = classify(headers + b"\r\nbody\r\n", "s@h.example", ["r@example.net"], POLICY)
    assert c.ticket == ticket
    assert c.tracked is (ticket is not None)


def test_tracked_copies_lose_return_path_and_foreign_receipt_requests():
    raw = b"Return-Path: <x@y>\r\nDisposition-Notification-To: other@y\r\nBcc: secret@example.net\r\nSubject: [#1] s\r\n\r\nb\r\n"
    c = classify(raw, "s@h.example", ["r@example.net"], POLICY)
    assert c.headers == b"Subject: [#1] s\r\n"


from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from maild.intake.server import has_bare_cr_or_lf  # noqa: E402


@given(st.lists(st.sampled_from([b"a", b"\r\n", b"\r", b"\n", b".", b" "]), max_size=30))
def test_bare_cr_or_lf_check_agrees_with_the_definition(parts):
    import re

    raw = b"".join(parts)
    assert has_bare_cr_or_lf(raw) == bool(re.search(rb"(?<!\r)\n|\r(?!\n)", raw))


def test_tracked_mail_without_message_id_gets_one():
    raw = b"Subject: [#3] s\r\nTo: r@example.net\r\n\r\nb\r\n"
    c = classify(raw, "s@h.example", ["r@example.net"], POLICY, fallback_message_id="<Q1.5@h.example>")
    assert c.message_id == "<Q1.5@h.example>"
    assert c.headers == b"Message-ID: <Q1.5@h.example>\r\nSubject: [#3] s\r\nTo: r@example.net\r\n"


def test_a_message_id_is_never_replaced_and_untracked_mail_never_gets_one():
    own = b"Message-ID: <mine@h.example>\r\nSubject: [#3] s\r\n\r\nb\r\n"
    assert classify(own, "s", ["r@example.net"], POLICY, fallback_message_id="<x@y>").message_id == "<mine@h.example>"
    untracked = b"Subject: hello\r\n\r\nb\r\n"
    c = classify(untracked, "s", ["r@example.net"], POLICY, fallback_message_id="<x@y>")
    assert c.message_id is None and c.headers == b"Subject: hello\r\n"


def test_a_new_database_is_private(tmp_path):
    from maild.store.db import open_db

    open_db(tmp_path / "var" / "m.db").conn.close()
    assert (tmp_path / "var" / "m.db").stat().st_mode & 0o777 == 0o600
