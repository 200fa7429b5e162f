"""Pure parts of delivery, table-driven and property-based: reply parsing, commands, DATA encoding, backoff, decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from maild.delivery import copies, protocol
from maild.delivery.copies import DueRecipient, DsnRequest, SpoolMessage
from maild.core.backoff import backoff as core_backoff
from maild.delivery.outcome import RetryPolicy, decide
from maild.delivery.protocol import Reply, ReplyClass
from maild.delivery.transport import Answer
from maild.core.events import EventKind
from maild.core.states import DeliveryState

POLICY = RetryPolicy(300, 3600, 5 * 86400)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"250 OK\r\n", (250, True, "OK")),
        (b"250-PIPELINING\r\n", (250, False, "PIPELINING")),
        (b"550 5.1.1 <a@b>: unknown\n", (550, True, "5.1.1 <a@b>: unknown")),
        (b"354\r\n", (354, True, "")),
    ],
)
def test_reply_lines_parse(line, expected):
    assert protocol.parse_reply_line(line) == expected


@pytest.mark.parametrize("line", [b"", b"25\r\n", b"abc def\r\n", b"250x\r\n"])
def test_malformed_reply_lines_raise_value_error(line):
    with pytest.raises(ValueError):
        protocol.parse_reply_line(line)


@pytest.mark.parametrize(
    ("reply", "status"),
    [
        (Reply(550, "5.1.1 unknown"), "5.1.1"),
        (Reply(450, "4.2.0 busy"), "4.2.0"),
        (Reply(550, "4.2.0 mismatched class"), None),
        (Reply(250, "OK"), None),
        (Reply(250, "2.0.0"), "2.0.0"),
    ],
)
def test_enhanced_status_comes_from_the_reply_text(reply, status):
    assert reply.status == status


@given(st.integers(min_value=-1000, max_value=1000) | st.none())
def test_only_2xx_3xx_are_positive_and_only_5xx_permanent(code):
    klass = protocol.reply_class(code)
    if code is not None and 200 <= code < 400:
        assert klass is ReplyClass.POSITIVE
    elif code is not None and 500 <= code < 600:
        assert klass is ReplyClass.PERMANENT
    else:
        assert klass is ReplyClass.TRANSIENT


def test_ehlo_extensions_skip_the_greeting_line():
    reply = Reply(250, "mx.example\nPIPELINING\nSIZE 1000\ndsn\nAUTH PLAIN LOGIN")
    ext = protocol.parse_extensions(reply)
    assert ext == {"PIPELINING": "", "SIZE": "1000", "DSN": "", "AUTH": "PLAIN LOGIN"}
    assert protocol.auth_mechanisms(ext) == {"PLAIN", "LOGIN"}


@pytest.mark.parametrize(
    ("text", "encoded"),
    [("a@b.example", "a@b.example"), ("a+b=c@x", "a+2Bb+3Dc@x"), ("a b", "a+20b"), ("é", "+C3+A9")],
)
def test_xtext_encodes_plus_equals_and_non_printables(text, encoded):
    assert protocol.xtext(text) == encoded


def test_commands_refuse_line_breaks():
    with pytest.raises(ValueError):
        protocol.rcpt_command("a@b\r\nDATA")
    assert protocol.mail_command("a@b", ("RET=HDRS",)) == b"MAIL FROM:<a@b> RET=HDRS\r\n"


@pytest.mark.parametrize(
    ("message", "wire"),
    [
        (b"a\r\nb\r\n", b"a\r\nb\r\n.\r\n"),
        (b"a\nb", b"a\r\nb\r\n.\r\n"),
        (b".x\r\n..y\r\n", b"..x\r\n...y\r\n.\r\n"),
        (b"a\r\n.\r\nb\r\n", b"a\r\n..\r\nb\r\n.\r\n"),
        (b"", b".\r\n"),
    ],
)
def test_data_is_crlf_terminated_and_dot_stuffed(message, wire):
    assert protocol.encode_data(message) == wire


@given(st.binary(max_size=300))
def test_data_encoding_round_trips_for_crlf_messages(message):
    message = message.replace(b"\r", b"").replace(b"\n", b"\r\n")
    wire = protocol.encode_data(message)
    assert wire.endswith(b".\r\n")
    body = wire[:-3]
    lines = body.split(b"\r\n")
    assert all(not (line.startswith(b".") and not line.startswith(b"..")) for line in lines)
    unstuffed = b"\r\n".join(line[1:] if line.startswith(b".") else line for line in lines)
    expected = message if not message or message.endswith(b"\r\n") else message + b"\r\n"
    assert unstuffed == expected


def backoff(attempts: int, policy: RetryPolicy) -> float:
    """Delivery's retry delays: the core backoff under the retry policy's first and most."""
    return core_backoff(attempts, policy.first_retry, policy.max_retry)


@given(st.integers(min_value=1, max_value=10_000))
def test_backoff_never_exceeds_max_and_never_shrinks(attempts):
    assert 300 <= backoff(attempts, POLICY) <= 3600
    assert backoff(attempts + 1, POLICY) >= backoff(attempts, POLICY)


def test_backoff_doubles_from_first_retry():
    assert [backoff(n, POLICY) for n in range(1, 7)] == [300, 600, 1200, 2400, 3600, 3600]


RCPT = DueRecipient(7, 3, "a@example.net", "tok", 2)


@pytest.mark.parametrize(
    ("code", "status", "age", "state", "event", "reason"),
    [
        (250, "2.0.0", 0, DeliveryState.ACCEPTED, EventKind.ACCEPTED, None),
        (550, "5.1.1", 0, DeliveryState.FAILED, EventKind.FAILED, "userunknown"),
        (452, "4.2.2", 0, DeliveryState.DEFERRED, EventKind.DEFERRED, "mailboxfull"),
        (None, None, 0, DeliveryState.DEFERRED, EventKind.DEFERRED, "undefined"),
        (450, "4.2.0", 5 * 86400, DeliveryState.FAILED, EventKind.FAILED, "expired"),
        (550, "5.1.1", 5 * 86400, DeliveryState.FAILED, EventKind.FAILED, "userunknown"),
    ],
)
def test_decide_maps_answers_to_states(code, status, age, state, event, reason):
    now = T0 + timedelta(seconds=age)
    o = decide(Answer(code, status, f"{code} {status} text", "mx"), RCPT, T0, now, POLICY)
    assert (o.state, o.event, o.record.reason, o.attempts) == (state, event, reason, 3)
    assert o.natural_key == "delivery:7:3"
    assert (o.next_attempt_at is not None) == (state is DeliveryState.DEFERRED)
    if o.next_attempt_at:
        assert o.next_attempt_at == now + timedelta(seconds=1200)
        assert o.record.hard is False


def test_verp_address_puts_token_after_delimiter():
    assert copies.verp_address("receipts@h.example", "+", "abc") == "receipts+abc@h.example"
    assert copies.verp_address("bounce-x@h.example", "-", "abc") == "bounce-x-abc@h.example"


def _msg(tracked: bool, receipts: bool) -> SpoolMessage:
    return SpoolMessage(3, "Q1", "agent@h.example", tracked, receipts, T0, b"Subject: s\r\n", b"\r\nbody\r\n")


def test_plan_one_copy_per_tracked_recipient_and_one_for_untracked():
    due = [DueRecipient(1, 3, "a@x", "t1", 0), DueRecipient(2, 3, "b@x", "t2", 0)]
    tracked = copies.plan({3: _msg(True, True)}, due, return_path="r@h.example", delimiter="+")
    assert [c.sender for c in tracked] == ["r+t1@h.example", "r+t2@h.example"]
    assert tracked[0].data == b"Disposition-Notification-To: <r+t1@h.example>\r\nSubject: s\r\n\r\nbody\r\n"
    untracked = copies.plan(
        {3: _msg(False, False)}, [DueRecipient(1, 3, "a@x", None, 0), DueRecipient(2, 3, "b@x", None, 0)],
        return_path="r@h.example", delimiter="+",
    )
    assert len(untracked) == 1 and untracked[0].sender == "agent@h.example"
    assert untracked[0].data == b"Subject: s\r\n\r\nbody\r\n"


def test_envelope_adds_only_offered_extensions():
    (copy,) = copies.plan({3: _msg(True, False)}, [DueRecipient(1, 3, "a@x", "t1", 0)], return_path="r@h", delimiter="+")
    dsn = DsnRequest("FAILURE", "HDRS")
    bare = copies.envelope(copy, {}, dsn)
    assert bare.mail_params == () and bare.rcpt_params == ()
    full = copies.envelope(copy, {"SIZE": "", "DSN": ""}, dsn)
    assert full.mail_params == (f"SIZE={len(copy.data)}", "RET=HDRS", "ENVID=t1")
    assert full.rcpt_params == (("NOTIFY=FAILURE", "ORCPT=rfc822;a@x"),)
