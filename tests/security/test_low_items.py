"""The Low items: envelope syntax, NUL bytes and long lines, MDN resends, Bcc on untracked mail.

Each reproduces what an adversarial test of main found: a Latin-1 byte in RCPT
got 250 and then 451 at the end of DATA (retried for ever); NUL, \\x01 and
\\x7f in local parts and 300-character parts reached the upstream; a valid
quoted local part was refused; a UTF-8 local part was accepted without
SMTPUTF8; NUL bytes were relayed; a read receipt resent with a new
Message-ID added an event each time; untracked mail kept its Bcc: header.
"""

from __future__ import annotations

import pytest

from maild.core.syntax import address_problem
from maild.receipts.ingest import ingest_report
from maild.reports import parse
from maild.store import transaction
from tests.intake.conftest import raw_smtp
from tests.receipts.conftest import KEYS, T0, send
from tests.receipts.mail import mdn

CONFIG = '[intake]\nlisten = ["127.0.0.1:0"]\n'


async def _rcpt(port: int, rcpt: bytes, mail_params: bytes = b"") -> bytes:
    replies = await raw_smtp(port, [b"EHLO c\r\n", b"MAIL FROM:<agent@helpdesk.example.com>" + mail_params + b"\r\n",
                                    b"RCPT TO:<" + rcpt + b">\r\n", b"QUIT\r\n"])
    return replies[3]


@pytest.mark.parametrize(
    "rcpt",
    [
        "b\xe9a@example.net".encode("latin-1"),  # a Latin-1 byte: not UTF-8
        b"a\x00b@example.net", b"a\x01b@example.net", b"a\x7fb@example.net",
        b"a" * 65 + b"@example.net",
        b"alice@" + b"l" * 64 + b".example.net",
        "j\xf6rg@example.net".encode(),  # UTF-8 local part without SMTPUTF8
    ],
    ids=["latin1", "nul", "soh", "del", "local_65", "label_64", "utf8_no_smtputf8"],
)
async def test_bad_recipient_syntax_is_refused_at_rcpt_with_553(make_config, start_intake, rcpt):
    intake = await start_intake(make_config(CONFIG))
    assert (await _rcpt(intake.port, rcpt)).startswith(b"553 5.1.3")


@pytest.mark.parametrize(
    ("rcpt", "params"),
    [
        (b'"a b"@example.net', b""),  # a quoted local part (RFC 5321 4.1.2)
        (b"a" * 64 + b"@example.net", b""),
        ("j\xf6rg@b\xfccher.example".encode(), b" SMTPUTF8"),  # RFC 6531
        (b"alice@xn--bcher-kva.example", b""),  # an IDN domain as an A-label needs nothing
        (b"alice@[192.0.2.1]", b""),
    ],
    ids=["quoted", "local_64", "utf8_with_smtputf8", "a_label", "literal"],
)
async def test_valid_recipients_are_accepted(make_config, start_intake, rcpt, params):
    intake = await start_intake(make_config(CONFIG))
    assert (await _rcpt(intake.port, rcpt, params)).startswith(b"250")


def test_address_rules():
    assert address_problem('"a\\"b"@example.net', smtputf8=False) is None
    assert address_problem("a..b@example.net", smtputf8=False) == "local part syntax"
    assert address_problem("a@-bad.example", smtputf8=False) == "domain label syntax or length"


async def _data(port: int, body: bytes) -> bytes:
    replies = await raw_smtp(port, [b"EHLO c\r\n", b"MAIL FROM:<agent@helpdesk.example.com>\r\n",
                                    b"RCPT TO:<alice@example.net>\r\n", b"DATA\r\n", body + b".\r\n"])
    return replies[5]


async def test_a_nul_byte_in_the_body_is_refused(make_config, start_intake):
    intake = await start_intake(make_config(CONFIG))
    assert (await _data(intake.port, b"Subject: x\r\n\r\nbefore\x00after\r\n")).startswith(b"554 5.6.0")
    assert intake.rows("SELECT count(*) FROM messages") == [(0,)]


async def test_lines_of_998_characters_pass_and_longer_ones_are_refused(make_config, start_intake):
    intake = await start_intake(make_config(CONFIG))
    assert (await _data(intake.port, b"Subject: x\r\n\r\n" + b"a" * 998 + b"\r\n")).startswith(b"250")
    assert (await _data(intake.port, b"Subject: x\r\n\r\n" + b"a" * 999 + b"\r\n")).startswith(b"500")


@pytest.mark.parametrize("field", [b"To", b"Cc", b"From"])
async def test_an_address_header_nested_too_deep_is_refused_for_good(make_config, start_intake, field):
    # The stdlib's address parser recursed once per "(": RecursionError, answered 451, so the client retried for ever.
    intake = await start_intake(make_config(CONFIG))
    raw = field + b": alice@example.net " + b"(" * 900 + b"\r\nSubject: [#5] x\r\n\r\nbody\r\n"
    reply = await _data(intake.port, raw)
    assert reply.startswith(b"554 5.6.0") and b"nests comments too deeply" in reply
    assert intake.rows("SELECT count(*) FROM messages") == [(0,)]


async def test_untracked_mail_loses_its_bcc_header(make_config, start_intake):
    intake = await start_intake(make_config(CONFIG))
    raw = b"From: a@helpdesk.example.com\r\nTo: alice@example.net\r\nBcc: secret@example.org\r\nSubject: hi\r\n\r\nbody\r\n"
    assert (await _data(intake.port, raw)).startswith(b"250")
    ((headers, tracked),) = intake.rows("SELECT headers, tracked FROM messages")
    assert tracked == 0 and b"Bcc" not in headers and b"secret@example.org" not in headers


def test_a_read_receipt_resent_with_a_new_message_id_is_one_event(db):  # type: ignore[no-untyped-def]
    sent = send(db, "alice@example.net")
    token = sent.token("alice@example.net")
    for unique in ("first", "second", "third"):
        raw = mdn(token, "alice@example.net", unique=unique)
        transaction(db, lambda d, raw=raw: ingest_report(d, raw, parse(raw), KEYS, "pipe", T0.replace(hour=13)))
    kinds = [r[0] for r in db.execute("SELECT kind FROM events WHERE kind != 'queued'")]
    assert kinds == ["displayed"]
