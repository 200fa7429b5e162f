"""Pure helpers: IMAP response reading, UID sets, and [[receipts]] URLs, table-driven without sockets."""

from __future__ import annotations

from pathlib import Path

import pytest

from maild.receipts import imap_proto as p
from maild.core.urls import Scheme, SourceUrl, parse_source_url


@pytest.mark.parametrize(
    ("uids", "expected"),
    [([1], "1"), ([1, 2, 3], "1:3"), ([3, 1, 2, 7, 9, 10], "1:3,7,9:10"), ([5, 5, 6], "5:6")],
)
def test_uid_set_is_compact(uids, expected):
    assert p.uid_set(uids) == expected


def test_fetched_messages_with_uid_before_or_after_the_literal():
    lines = [
        b"1 FETCH (UID 5 BODY[] {3}", bytearray(b"abc"), b")",
        b"2 FETCH (BODY[] {2}", bytearray(b"de"), b" UID 9)",
        b"3 FETCH (FLAGS (\\Seen))",
        b"Fetch completed.",
    ]
    assert p.fetched_messages(lines) == [(5, b"abc"), (9, b"de")]


@pytest.mark.parametrize(
    ("lines", "above", "expected"),
    [
        ([b"1 2 9", b"Search completed."], 0, [1, 2, 9]),
        ([b"SEARCH 4 5", b"done"], 4, [5]),
        ([b"7", b"done"], 7, []),  # UID 8:* returns the last message when nothing is newer
        ([b"", b"done"], 0, []),
        ([b"Search completed."], 0, []),
    ],
)
def test_search_uids(lines, above, expected):
    assert p.search_uids(lines, above=above) == expected


def test_uidvalidity_from_select():
    assert p.uidvalidity([b"2 EXISTS", b"OK [UIDVALIDITY 1795756705] UIDs valid", b"done"]) == 1795756705
    assert p.uidvalidity([b"done"]) is None


@pytest.mark.parametrize(
    ("push", "expected"),
    [([b"3 EXISTS"], True), ([b"1 RECENT"], True), ([b"OK Still here"], False), ([b"stop_wait_server_push"], False), (None, False)],
)
def test_announces_new_mail(push, expected):
    assert p.announces_new_mail(push) is expected


def test_quote_mailbox():
    assert p.quote('a "b"\\c') == '"a \\"b\\"\\\\c"'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("maildir:var/receipts", SourceUrl(Scheme.MAILDIR, path=Path("/etc/maild/var/receipts"))),
        ("maildir:/srv/r", SourceUrl(Scheme.MAILDIR, path=Path("/srv/r"))),
        ("imap://receipts@127.0.0.1:10143/INBOX", SourceUrl(Scheme.IMAP, "127.0.0.1", 10143, "receipts", None, "INBOX")),
        ("imaps://r%40x@mail.example.com/Receipts/In", SourceUrl(Scheme.IMAPS, "mail.example.com", 993, "r@x", None, "Receipts/In")),
        ("imap://u:pw@[::1]:143", SourceUrl(Scheme.IMAP, "::1", 143, "u", "pw", "INBOX")),
        ("lmtp://127.0.0.1:2424", SourceUrl(Scheme.LMTP, "127.0.0.1", 2424)),
    ],
)
def test_parse_source_url(text, expected):
    assert parse_source_url(text, Path("/etc/maild")) == expected


@pytest.mark.parametrize("text", ["pop3://x@h", "imap://h:143", "maildir:", "imap://u@h:99999", "lmtp://"])
def test_parse_source_url_rejects(text):
    with pytest.raises(ValueError, match="expected"):
        parse_source_url(text, Path("/"))


def test_display_never_shows_the_password():
    assert "pw" not in parse_source_url("imap://u:pw@h:143/INBOX", Path("/")).display()
