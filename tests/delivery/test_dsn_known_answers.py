"""Known answers for what a tracked copy says on the wire: the VERP sender, the DSN request parameters (RFC 3461) and
the exact MAIL/RCPT lines, with the shipped defaults. Upstream MTAs echo these back in DSNs; ingest finds the
recipient by them. A change here breaks the correlation of DSNs for mail already sent."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from maild import config
from maild.delivery import copies, protocol
from maild.delivery.copies import DsnRequest, DueRecipient, SpoolMessage

BREAKS = "this breaks DSN correlation for mail already sent (ENVID/ORCPT/VERP are echoed back by upstream MTAs)"
TOKEN = "aaaaaow6ncwv433zrlhcp3232y47x2hy"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _copy(address: str = "Alice+x=y@example.net") -> copies.Copy:
    s = config.parse({}, Path("/tmp/maild.toml"))
    msg = SpoolMessage(3, "Q1", "agent@h.example", True, True, T0, b"Subject: s\r\n", b"\r\nbody\r\n")
    (copy,) = copies.plan({3: msg}, [DueRecipient(7, 3, address, TOKEN, 0)],
                         return_path=s.tracking.return_path, delimiter=s.tracking.delimiter)
    return copy


def test_defaults_request_every_notification_with_headers_only() -> None:
    d = config.parse({}, Path("/tmp/maild.toml")).delivery
    assert (d.request_dsn, d.dsn_notify, d.dsn_ret) == (True, "SUCCESS,FAILURE,DELAY", "HDRS"), BREAKS


def test_the_exact_mail_and_rcpt_lines_of_a_tracked_copy() -> None:
    copy = _copy()
    assert copy.sender == f"receipts+{TOKEN}@helpdesk.example.com", BREAKS
    env = copies.envelope(copy, {"DSN": ""}, DsnRequest("SUCCESS,FAILURE,DELAY", "HDRS"))
    assert protocol.mail_command(env.sender, env.mail_params) == (
        f"MAIL FROM:<receipts+{TOKEN}@helpdesk.example.com> RET=HDRS ENVID={TOKEN}\r\n".encode()), BREAKS
    (params,) = env.rcpt_params
    assert protocol.rcpt_command("Alice+x=y@example.net", params) == (
        b"RCPT TO:<Alice+x=y@example.net> NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=rfc822;Alice+2Bx+3Dy@example.net\r\n"), BREAKS


def test_xtext_known_answers() -> None:
    # RFC 3461 section 4: "+" and "=" and anything outside "!".."~" become "+" and two upper-case hex digits.
    cases = {"a@b": "a@b", "a+b=c": "a+2Bb+3Dc", "a b": "a+20b", "é": "+C3+A9", "~!": "~!", "": ""}
    for text, want in cases.items():
        assert protocol.xtext(text) == want, BREAKS


def test_the_receipts_request_header_names_the_copys_own_verp_address() -> None:
    assert _copy().data.startswith(f"Disposition-Notification-To: <receipts+{TOKEN}@helpdesk.example.com>\r\n".encode())
