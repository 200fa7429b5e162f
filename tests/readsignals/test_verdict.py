"""The read verdict (maild.readsignals.verdict) called directly: its own defaults and the shape of what it returns.

maild.status.recipient_state passes every argument and reads `read_at` before `outcome`, so these contracts of
`verdict` itself are not visible through it (mutation survivors, docs/testing.md)."""

from __future__ import annotations

from maild.clock import iso
from maild.core.events import EventKind
from maild.core.record import Event, StatusRecord
from maild.readsignals import ReadVia, verdict
from tests.support.builders import at


def _machine_open() -> tuple[Event, ...]:
    return (
        Event(1, EventKind.ACCEPTED, iso(at(1)), "smtp"),
        Event(2, EventKind.OPENED, iso(at(7)), "pixel", record=StatusRecord(action="machine")),
    )


def test_a_machine_open_does_not_count_unless_the_caller_asks() -> None:
    default = verdict(_machine_open())
    assert (default.read_at, default.read_via) == (None, None)
    assert [e.counted for e in default.evidence] == [False]
    counted = verdict(_machine_open(), count_machine_opens=True)
    assert (counted.read_at, counted.read_via) == (iso(at(7)), ReadVia.PIXEL)


def test_a_declined_receipt_is_the_outcome_only_while_nothing_proves_reading() -> None:
    denied = Event(1, EventKind.DENIED, iso(at(2)), "mdn")
    displayed = Event(2, EventKind.DISPLAYED, iso(at(5)), "mdn")
    alone = verdict([denied])
    assert (alone.read_at, alone.outcome) == (None, EventKind.DENIED)
    overturned = verdict([denied, displayed])
    assert (overturned.read_at, overturned.read_via, overturned.outcome) == (iso(at(5)), ReadVia.MDN, None)
    replied_first = verdict([Event(3, EventKind.REPLIED, iso(at(1)), "reply"), Event(4, EventKind.DELETED, iso(at(3)), "mdn")])
    assert (replied_first.read_via, replied_first.outcome) == (ReadVia.REPLY, None)
