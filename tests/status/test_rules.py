"""Table-driven tests of the pure status rules (maild.status), without a database."""

from __future__ import annotations

import pytest

from maild.core.events import EventKind, RecipientKind
from maild.core.states import RecipientState, ReplyState
from maild.core.jsonvalue import to_json
from maild.core.record import EMPTY, Event, StatusRecord
from maild.status import (
    RecipientInput,
    ReplyInput,
    recipient_state,
    reply_state,
    thread_info,
)
from tests.support.builders import at
from tests.support.status_cases import BOUNCE, CASES, Case
from maild.clock import iso


def events_of(spec) -> tuple[Event, ...]:
    out = []
    for i, (kind, minute, *extra) in enumerate(spec, start=1):
        r = extra[0] if extra else None
        out.append(
            Event(i, EventKind(kind), iso(at(minute)), "dsn", record=r or EMPTY)
        )
    return tuple(out)


def statuses(case: Case):
    return [
        recipient_state(events_of(evs), address=a, kind=RecipientKind(k), receipts_enabled=case.receipts)
        for a, k, evs in case.recipients
    ]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_recipient_states(case: Case) -> None:
    assert tuple(s.state for s in statuses(case)) == case.states


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_reply_state(case: Case) -> None:
    assert reply_state(statuses(case)) == case.reply


def test_reply_states_cover_every_state() -> None:
    assert {c.reply for c in CASES} == set(ReplyState)


def test_failure_carries_the_latest_failure_record() -> None:
    evs = events_of([("queued", 0), ("accepted", 1), ("bounced", 9, BOUNCE)])
    s = recipient_state(evs, address="a@example.net", kind=RecipientKind.TO, receipts_enabled=True)
    assert s.failure is not None
    f = s.failure.record
    assert (f.status, f.reason, f.hard, f.remote_mta) == (
        "5.1.1", "userunknown", True, "mx.example.net")
    assert s.failure.at == iso(at(9))


def test_delivered_at_is_the_first_acceptance_and_read_at_the_first_read() -> None:
    evs = events_of([("queued", 0), ("accepted", 1), ("delivered", 3), ("displayed", 9), ("displayed", 12)])
    s = recipient_state(evs, address="a@example.net", kind=RecipientKind.TO, receipts_enabled=True)
    assert (s.delivered_at, s.read_at) == (iso(at(1)), iso(at(9)))


def test_read_at_is_hidden_with_receipts_off() -> None:
    evs = events_of([("queued", 0), ("accepted", 1), ("displayed", 9)])
    s = recipient_state(evs, address="a@example.net", kind=RecipientKind.TO, receipts_enabled=False)
    assert s.read_at is None


def test_no_recipients_is_pending() -> None:
    assert reply_state([]) == ReplyState.PENDING


def test_thread_json_has_the_design_shape() -> None:
    reply = ReplyInput("<r@x>", "Re: hi", iso(at(0)), (
        RecipientInput("a@example.net", RecipientKind.TO, events_of([("queued", 0), ("accepted", 1), ("displayed", 5)])),
    ))
    out = to_json(thread_info("1234", "Billing", True, [reply]))
    assert out == {
        "ticket": "1234", "department": "Billing", "receipts_enabled": True,
        "replies": [{"message_id": "<r@x>", "subject": "Re: hi", "queued_at": iso(at(0)), "state": "read",
                     "bounce_label": False, "answered_by_third_party": [],
                     "recipients": [{"address": "a@example.net", "kind": "to", "state": "read",
                                     "delivered_at": iso(at(1)), "read_at": iso(at(5)), "failure": None,
                                     "read_via": "mdn",
                                     "evidence": [{"signal": "mdn", "event": "displayed", "at": iso(at(5)),
                                                   "counted": True, "text": "MDN displayed \u2014 09:05",
                                                   "agent": None, "author": None}]}]}],
    }


def _opened(action: str) -> tuple[Event, ...]:
    """Delivered at minute 1, then one pixel fetch at minute 7 classified `action` (human or machine)."""
    return (
        Event(1, EventKind.QUEUED, iso(at(0)), "smtp"),
        Event(2, EventKind.ACCEPTED, iso(at(1)), "smtp"),
        Event(3, EventKind.OPENED, iso(at(7)), "pixel", record=StatusRecord(action=action)),
    )


def test_a_machine_open_is_not_a_read_unless_the_operator_counts_them() -> None:
    kw = {"address": "a@example.net", "kind": RecipientKind.TO, "receipts_enabled": True}
    default = recipient_state(_opened("machine"), **kw)
    counted = recipient_state(_opened("machine"), **kw, count_machine_opens=True)
    assert (default.state, default.read_at) == (RecipientState.DELIVERED, None)
    assert (counted.state, counted.read_at, counted.read_via) == (RecipientState.READ, iso(at(7)), "pixel")
    human = recipient_state(_opened("human"), **kw)
    assert (human.state, human.read_via) == (RecipientState.READ, "pixel")


def test_thread_info_passes_the_machine_open_setting_to_every_recipient() -> None:
    reply = ReplyInput("<r@x>", "Re: hi", iso(at(0)), (
        RecipientInput("a@example.net", RecipientKind.TO, _opened("machine")),
        RecipientInput("b@example.net", RecipientKind.CC, _opened("machine")),
    ))
    off = thread_info("1234", None, True, [reply]).replies[0]
    on = thread_info("1234", None, True, [reply], count_machine_opens=True).replies[0]
    assert [r.state for r in off.recipients] == [RecipientState.DELIVERED, RecipientState.DELIVERED]
    assert [r.state for r in on.recipients] == [RecipientState.READ, RecipientState.READ]
    assert (off.state, on.state) == (ReplyState.DELIVERED, ReplyState.READ)


def test_a_recipient_without_events_yet_is_queued() -> None:
    s = recipient_state((), address="a@example.net", kind=RecipientKind.TO, receipts_enabled=True)
    assert (s.state, s.delivered_at, s.read_at, s.failure) == (RecipientState.QUEUED, None, None, None)
