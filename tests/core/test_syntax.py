"""The one enhanced-status-code pattern (RFC 3463) and the one address pattern, on the forms mail software writes."""

from __future__ import annotations

import pytest

from maild.core.syntax import ADDRESS, STATUS_CODE, status_code_at_start


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Status: 5.1.1", "5.1.1"),
        ("550 5.7.1 <a@b.example>: Relay access denied", "5.7.1"),
        ("smtp; 452 4.2.2 Mailbox full", "4.2.2"),
        ("2.0.0 (success)", "2.0.0"),
        ("X-Mailer: Foo 5.1.1.2", None),  # a longer dotted number is not a status code
        ("from 10.5.1.1 port 25", None),  # nor part of an IP address
        ("3.1.1 is not a class", None),
    ],
)
def test_status_code_is_found_in_text_only_where_it_stands_alone(text: str, found: str | None) -> None:
    m = STATUS_CODE.search(text)
    assert (m.group(0) if m else None) == found


@pytest.mark.parametrize(
    ("reply_text", "code"),
    [("2.1.0 Ok", "2.1.0"), ("5.1.1", "5.1.1"), ("5.1.1; user unknown", None), ("5.1.1.", None), ("Ok 2.0.0", None)],
)
def test_a_reply_opens_with_its_code_followed_by_a_space_or_nothing(reply_text: str, code: str | None) -> None:
    m = status_code_at_start(reply_text)
    assert (m.group(0) if m else None) == code


@pytest.mark.parametrize(
    "address",
    ["user@example.com", "first.last+tag@mail.example.org", '"quoted"@example.net', "postmaster@[192.0.2.1]",
     "postmaster@[IPv6:2001:db8::1]", "o'brien@example.ie", "user@host_name.example", "root@localhost"],
)
def test_addresses_mail_software_writes_are_addresses(address: str) -> None:
    assert ADDRESS.fullmatch(address)


@pytest.mark.parametrize("text", ["no-at-sign.example.com", "user@", "@example.com", "a b@example.com", "user@-example.com"])
def test_what_is_not_an_address_does_not_match_whole(text: str) -> None:
    assert not ADDRESS.fullmatch(text)


def test_an_address_is_found_inside_angle_brackets_and_names() -> None:
    assert [m.group(0) for m in ADDRESS.finditer('"Jane" <jane@example.com>, bob@example.net')] == [
        "jane@example.com", "bob@example.net",
    ]


def test_address_pairs_reads_addresses_and_refuses_nesting_the_stdlib_cannot_read() -> None:
    from maild.core.syntax import UnreadableAddresses, address_pairs

    assert address_pairs(["Alice <a@example.net>, b@example.org (Bob (the builder))"]) == [
        ("Alice", "a@example.net"), ("Bob the builder", "b@example.org")]
    with pytest.raises(UnreadableAddresses, match="too deeply"):
        address_pairs(["a@example.net " + "(" * 2000])
