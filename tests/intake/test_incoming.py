"""Reading a received message at intake (maild.intake.incoming): recipient kinds, tickets, header surgery, Message-ID;
and the bare CR/LF check of the intake server. Table-driven, no sockets."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from maild import config
from maild.core.events import RecipientKind
from maild.intake.incoming import read_incoming
from maild.intake.server import has_bare_cr_or_lf

POLICY = config.parse({}, Path("/tmp/maild.toml")).tracking


MSG = b"From: a@h.example\r\nTo: A <TO@example.net>, x@example.net\r\nCc: cc@example.net, to@example.net\r\nSubject: [#77] hi\r\n\r\nb\r\n"


def test_recipient_kinds_to_beats_cc_and_the_rest_is_bcc():
    c = read_incoming(MSG, "a@h.example", ["to@example.net", "cc@example.net", "hidden@example.net"], POLICY)
    assert [(r.address, r.kind) for r in c.recipients] == [
        ("to@example.net", RecipientKind.TO),
        ("cc@example.net", RecipientKind.CC),
        ("hidden@example.net", RecipientKind.BCC),
    ]


def test_duplicate_envelope_recipients_get_one_copy():
    c = read_incoming(MSG, "a@h.example", ["to@example.net", "TO@example.net"], POLICY)
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
    c = read_incoming(headers + b"\r\nbody\r\n", "s@h.example", ["r@example.net"], POLICY)
    assert c.ticket == ticket
    assert c.tracked is (ticket is not None)


def test_tracked_copies_lose_return_path_and_foreign_receipt_requests():
    raw = b"Return-Path: <x@y>\r\nDisposition-Notification-To: other@y\r\nBcc: secret@example.net\r\nSubject: [#1] s\r\n\r\nb\r\n"
    c = read_incoming(raw, "s@h.example", ["r@example.net"], POLICY)
    assert c.headers == b"Subject: [#1] s\r\n"


@given(st.lists(st.sampled_from([b"a", b"\r\n", b"\r", b"\n", b".", b" "]), max_size=30))
def test_bare_cr_or_lf_check_agrees_with_the_definition(parts):
    import re

    raw = b"".join(parts)
    assert has_bare_cr_or_lf(raw) == bool(re.search(rb"(?<!\r)\n|\r(?!\n)", raw))


def test_tracked_mail_without_message_id_gets_one():
    raw = b"Subject: [#3] s\r\nTo: r@example.net\r\n\r\nb\r\n"
    c = read_incoming(raw, "s@h.example", ["r@example.net"], POLICY, fallback_message_id="<Q1.5@h.example>")
    assert c.message_id == "<Q1.5@h.example>"
    assert c.headers == b"Message-ID: <Q1.5@h.example>\r\nSubject: [#3] s\r\nTo: r@example.net\r\n"


def test_a_message_id_is_never_replaced_and_untracked_mail_never_gets_one():
    own = b"Message-ID: <mine@h.example>\r\nSubject: [#3] s\r\n\r\nb\r\n"
    assert read_incoming(own, "s", ["r@example.net"], POLICY, fallback_message_id="<x@y>").message_id == "<mine@h.example>"
    untracked = b"Subject: hello\r\n\r\nb\r\n"
    c = read_incoming(untracked, "s", ["r@example.net"], POLICY, fallback_message_id="<x@y>")
    assert c.message_id is None and c.headers == b"Subject: hello\r\n"
