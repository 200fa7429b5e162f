"""Reading an answer's header fields: addresses agree with the standard library's parser, Message-IDs, auto-reply marks."""

from __future__ import annotations

from email.utils import getaddresses

import pytest

from maild.inbound.headers import automatic, normalize, read_headers
from tests.inbound import mail

FROM_LINES = [
    "Alice <alice@example.net>", "alice@example.net", '"Smith, Alice" <Alice.Smith@Example.NET>',
    "a@x.net, b@y.net", "=?utf-8?q?Ren=C3=A9?= <rene@x.net>", "Alice (work) <a@x.net>", "<a@x.net>",
    "a@x.net (Alice)", "undisclosed-recipients:;", "Group: a@x.net, b@y.net;",
]


@pytest.mark.parametrize("value", FROM_LINES)
def test_addresses_agree_with_the_standard_library(value: str) -> None:
    expected = tuple(dict.fromkeys(a.lower() for _, a in getaddresses([value]) if "@" in a))
    raw = f"From: {value}\r\nMessage-ID: <m@x>\r\n\r\nbody\r\n".encode()
    assert read_headers(raw).from_ == expected


def test_message_ids_and_references_newest_first() -> None:
    raw = mail.answer("a@x.net", "<r2@helpdesk.example.com>",
                      references=("<r1@helpdesk.example.com>", "<c1@client>", "<r2@helpdesk.example.com>"))
    h = read_headers(raw)
    assert h.referenced() == ("<r2@helpdesk.example.com>", "<c1@client>", "<r1@helpdesk.example.com>")
    assert h.message_id is not None and h.key == f"mid:{h.message_id.lower()}"


def test_only_the_header_block_is_read() -> None:
    raw = b"From: a@x.net\r\n\r\nIn-Reply-To: <r1@helpdesk.example.com>\r\nAuto-Submitted: auto-replied\r\n"
    h = read_headers(raw)
    assert (h.in_reply_to, h.auto_submitted) == ((), "")


def test_a_person_answer_is_not_automatic_and_the_marks_are() -> None:
    assert automatic(read_headers(mail.answer("a@x.net", "<r@h>"))) is None
    assert automatic(read_headers(mail.out_of_office("a@x.net", "<r@h>"))) == "auto-submitted"
    assert automatic(read_headers(mail.answer("a@x.net", "<r@h>", headers={"List-Id": "<l.x.net>"}))) == "list"


@pytest.mark.parametrize(("a", "b"), [("Alice+x@Example.NET", "alice@example.net"), ("<bob@x.net>", "BOB@X.NET")])
def test_normalize_tolerates_case_and_plus_tags(a: str, b: str) -> None:
    assert normalize(a) == normalize(b)
