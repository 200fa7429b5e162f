"""View models: status values become the check marks, words and timelines a panel page shows."""

from __future__ import annotations

import pytest

from maild.core.events import EventKind, EventSource, RecipientKind, Via
from maild.core.states import RecipientState
from maild.core.record import StatusRecord
from maild.queries import DepartmentRow
from maild.status import (
    Event,
    RecipientInput,
    ReplyInput,
    ReplyState,
    recipient_state,
    reply_status,
    thread_info,
)
from maild.web import views, words
from maild.web.render import render

T = "2026-03-01T12:00:00.000Z"


def rcpt(address: str, kind: RecipientKind, *kinds: EventKind, receipts: bool = True, **failure: object):
    source = str(failure.pop("source", "smtp"))
    record = StatusRecord(**failure)  # type: ignore[arg-type]
    events = [Event(i, k, f"2026-03-01T12:0{i}:00.000Z", source, record=record)  # type: ignore[arg-type]
              for i, k in enumerate(kinds, 1)]
    return recipient_state(events, address=address, kind=kind, receipts_enabled=receipts)


def reply(*recipients):
    return reply_status(message_id="<m@x>", subject="s", queued_at=T, recipients=list(recipients))


A, D, R = EventKind.ACCEPTED, EventKind.DISPLAYED, EventKind.BOUNCED
TO, CC, BCC = RecipientKind.TO, RecipientKind.CC, RecipientKind.BCC


@pytest.mark.parametrize(
    ("recipients", "state", "ticks", "of"),
    [
        ([("a", TO)], ReplyState.PENDING, 0, 2),
        ([("a", TO, A)], ReplyState.DELIVERED, 1, 2),
        ([("a", TO, A, D)], ReplyState.READ, 2, 2),
        ([("a", TO, A), ("b", CC, A)], ReplyState.DELIVERED, 1, 4),
        ([("a", TO, A), ("b", CC, A, D)], ReplyState.READ_BY_CC, 2, 4),
        ([("a", TO, A), ("c", BCC, A, D)], ReplyState.READ_BY_CC, 2, 4),
        ([("a", TO, A, D), ("b", CC, A)], ReplyState.READ_BY_TO, 3, 4),
        ([("a", TO, A, D), ("b", CC, A, D), ("c", BCC, A, D)], ReplyState.READ, 4, 4),
    ],
)
def test_check_marks_rise_with_the_reply_state(recipients, state, ticks, of):
    status = reply(*(rcpt(a, k, *ev) for a, k, *ev in recipients))
    mark = views.check_mark(status)
    assert (mark.state, mark.ticks, mark.of, mark.bounced) == (str(state), ticks, of, False)
    assert mark.words == words.REPLY_STATE_WORDS[state]


def test_the_bounce_label_only_when_every_recipient_failed():
    partial = views.check_mark(reply(rcpt("a", TO, A, R), rcpt("b", CC, A)))
    total = views.check_mark(reply(rcpt("a", TO, A, R), rcpt("b", CC, EventKind.FAILED)))
    assert not partial.bounced and partial.state == "delivered"
    assert total.bounced and total.state == "failed" and total.words == "bounced"


def test_every_state_has_words_and_every_reply_state_a_mark_count():
    assert set(words.RECIPIENT_STATE_WORDS) == set(RecipientState)
    assert set(words.REPLY_STATE_WORDS) == set(ReplyState)
    assert set(words.MULTI_TICKS) | {ReplyState.FAILED} == set(ReplyState)


def test_a_failure_shows_reason_words_diagnostic_and_the_reporting_mta_without_its_type():
    r = rcpt("a", TO, A, R, status="5.1.1", reason="userunknown", diagnostic="550 5.1.1 no such user",
             remote_mta="dns; mx.example.net", source="dsn")
    view = views.recipient_view(r, receipts_enabled=True)
    assert view.state == "bounced" and view.failure is not None
    assert view.failure.reason == "address does not exist — permanent"
    assert (view.failure.diagnostic, view.failure.reported_by) == ("550 5.1.1 no such user", "mx.example.net")
    assert view.failure.source == "delivery report (DSN)"
    assert view.no_receipt == "no receipt: the mail bounced"


@pytest.mark.parametrize(
    ("kinds", "why"),
    [
        ((A, EventKind.DENIED), "the recipient declined to send a receipt"),
        ((A, EventKind.DELETED), "deleted unread"),
        ((A,), "no receipt yet: still unread, or the recipient's mail program sends none"),
        ((EventKind.QUEUED,), "no receipt yet: not delivered"),
        ((A, D), None),
    ],
)
def test_why_a_receipt_is_missing(kinds, why):
    assert views.recipient_view(rcpt("a", TO, *kinds), receipts_enabled=True).no_receipt == why


def test_with_receipts_off_the_reason_is_the_department_switch_and_read_is_hidden():
    r = rcpt("a", TO, A, D, receipts=False)
    view = views.recipient_view(r, receipts_enabled=False)
    assert (view.state, view.read_at) == ("delivered", None)
    assert view.no_receipt == "read receipts are off for this department"


def ev(kind: str, source: str, *, at: str = T, via: str | None = None, **record: object) -> Event:
    """One timeline event as maild.queries.thread_timelines gives it: the core's event with its status record."""
    return Event(1, EventKind(kind), at, EventSource(source), Via(via) if via else None,
                 StatusRecord(**record))  # type: ignore[arg-type]


def test_timeline_names_who_reported_each_event():
    dsn = views.timeline_row(ev("bounced", "dsn", reporting_mta="dns; mx.example.net", status="5.2.2",
                                reason="mailboxfull", diagnostic="552 full", via="imap"))
    mdn = views.timeline_row(ev("displayed", "mdn", reporting_ua="Mozilla Thunderbird 115", via="maildir"))
    ours = views.timeline_row(ev("accepted", "smtp", remote_mta="smarthost.example.net", status="2.0.0"))
    assert dsn.source == "delivery report (DSN) from mx.example.net, via imap"
    assert dsn.what == "bounced: mailbox full — temporary" and dsn.detail == "5.2.2 552 full"
    assert mdn.source == "read receipt (MDN) from Mozilla Thunderbird 115, via maildir" and mdn.what == "read"
    assert ours.source == "our SMTP delivery from smarthost.example.net"


def test_a_reply_view_summarises_its_recipients():
    status = reply(rcpt("a", TO, A, D), rcpt("b", CC, A, R), rcpt("c", BCC, A))
    assert views.reply_view(status, receipts_enabled=True).summary == "3 recipients, 2 delivered, 1 read, 1 failed"
    assert views.reply_view(status, receipts_enabled=False).summary == "3 recipients, 2 delivered, 1 failed"


def test_department_switch_labels_say_what_the_button_does():
    (on, off) = views.department_views([DepartmentRow("Billing", True, True, 3, T), DepartmentRow("Sales", False, False, 0, None)])
    assert on.switch_label == "Switch read receipts off for Billing" and on.state_words == "read receipts on"
    assert off.switch_label == "Switch read receipts on for Sales" and off.state_words == "read receipts off (default)"


def test_display_time_is_utc_text_for_pages_read_without_javascript():
    assert views.display_time("2026-03-01T12:34:56.789Z") == "2026-03-01 12:34 UTC"
    assert views.display_time(None) == ""


HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_hostile_subject_address_and_diagnostic_render_as_text():
    events = (Event(1, A, T, "smtp"),  # type: ignore[arg-type]
              Event(2, R, T, "dsn", record=StatusRecord("5.1.1", None, "userunknown", True, HOSTILE, HOSTILE)))  # type: ignore[arg-type]
    info = thread_info("7", HOSTILE, True, [ReplyInput("<m@x>", HOSTILE, T, (RecipientInput(f"{HOSTILE}@x", TO, events),))])
    page = render("ticket.html", session=None, active="", ticket=views.ticket_view(info), live_ticket="7", live_version=0,
                  later=None, first=None)
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page


def test_a_failure_names_the_kind_of_report_its_timeline_knows():
    r = rcpt("a", TO, A, R, status="5.2.2", reason="mailboxfull", source="maildir")
    bounce = ev("bounced", "dsn", at=r.failure.at, via="maildir", status="5.2.2")
    view = views.recipient_view(r, [bounce], receipts_enabled=True)
    assert view.failure.source == "delivery report (DSN)"
    assert views.recipient_view(r, [], receipts_enabled=True).failure.source == "maildir"
