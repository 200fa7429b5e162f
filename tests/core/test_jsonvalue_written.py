"""The per-type encoders that maild.core.jsonvalue writes give exactly what the plain reading of the rules gives.

`reference` below walks a dataclass's fields and their metadata at every call, the way the encoder did before it
wrote one encoder per type; it is the rules of maild.core.jsonvalue's docstring and nothing more. Every value here
must come out the same from both, as objects and as the bytes json.dumps makes of them (key order included):
status threads of every case in the shared status table, events with and without records and places, every
report the parser reads from tests/data/reports, and dataclasses whose annotations cannot be resolved.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

import pytest

from maild.clock import iso
from maild.core.events import EventKind, EventSource, RecipientKind, Via
from maild.core.jsonvalue import INLINE, only, shown_as, to_json
from maild.core.record import EMPTY, Event, EventPlace, StatusRecord
from maild.reports import parse
from maild.status import RecipientInput, ReplyInput, ThirdPartyAnswer, thread_info
from tests.support.builders import at
from tests.support.status_cases import BOUNCE, CASES, FAIL, HUMAN

KEY = "maild.json"
REPORTS = Path(__file__).resolve().parents[1] / "data" / "reports"


def reference(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Enum):
        return reference(value.value)
    if isinstance(value, str):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            mode, key, v = f.metadata.get(KEY), f.metadata.get(KEY + ".key", f.name), getattr(value, f.name)
            if mode == "hidden":
                continue
            if mode == "inline":
                out.update({} if v is None else reference(v))
            elif isinstance(mode, tuple):
                full = None if v is None else reference(v)
                out[key] = None if full is None else {n: full[n] for n in mode if n in full}
            else:
                out[key] = reference(v)
        return out
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Mapping):
        return {str(k): reference(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [reference(v) for v in value]
    if isinstance(value, frozenset | set):
        return [reference(v) for v in sorted(value, key=str)]
    raise TypeError(type(value).__name__)


def same(value: object) -> None:
    got, want = to_json(value), reference(value)
    assert got == want
    assert json.dumps(got, ensure_ascii=False) == json.dumps(want, ensure_ascii=False)  # key order, types
    assert json.dumps(got, indent=1) == json.dumps(want, indent=1)  # the pure-Python encoder too


def events_of(spec: tuple[Any, ...]) -> tuple[Event, ...]:
    return tuple(
        Event(i, EventKind(kind), iso(at(minute)), EventSource.DSN if i % 2 else EventSource.MDN,
              via=Via.IMAP if i % 3 else None, record=extra[0] if extra else EMPTY,
              recorded_at=iso(at(minute + 1)), detail={"report": {"reporting_ua": "ua"}})
        for i, (kind, minute, *extra) in enumerate(spec, start=1)
    )


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_status_case_encodes_as_the_rules_say(case) -> None:
    recipients = tuple(RecipientInput(a, RecipientKind(k), events_of(evs)) for a, k, evs in case.recipients)
    reply = ReplyInput("<m@x>", "Re: é \u2028", iso(at(0)), recipients, (ThirdPartyAnswer(None, iso(at(3))),))
    same(thread_info("1234", "Billing", case.receipts, [reply, reply]))


@pytest.mark.parametrize("record", [EMPTY, BOUNCE, FAIL, HUMAN])
@pytest.mark.parametrize("place", [None, EventPlace(3, None, None, "a@example.net", RecipientKind.BCC),
                                   EventPlace(4, "77", "<r@x>", "b@example.net", RecipientKind.TO)])
def test_events_encode_as_the_rules_say(record: StatusRecord, place: EventPlace | None) -> None:
    same(Event(9, EventKind.BOUNCED, iso(at(1)), EventSource.BOUNCE, Via.LMTP, record, iso(at(2)), place))
    same(Event(9, EventKind.QUEUED, iso(at(1)), "smtp", record=record, place=place))  # a str where an enum goes


@pytest.mark.parametrize("eml", sorted(REPORTS.glob("*.eml")), ids=lambda p: p.name)
def test_every_parsed_report_encodes_as_the_rules_say(eml: Path) -> None:
    same(parse(eml.read_bytes()))


class Colour(Enum):
    RED = 1


@dataclass(frozen=True)
class Mixed:
    when: datetime
    tags: frozenset[str]
    detail: Mapping[str, Any]
    colour: Colour
    items: list[int | None]
    anything: object = None


def test_other_values_encode_as_the_rules_say() -> None:
    from datetime import UTC
    same(Mixed(datetime(2026, 3, 1, tzinfo=UTC), frozenset({"b", "a"}), {"k": (Via.PIPE, 1)}, Colour.RED, [1, None],
               anything=EMPTY))


def test_types_local_to_a_function_take_the_general_path() -> None:
    @dataclass(frozen=True)
    class Local:
        a: int
        b: str | None = field(default=None, metadata=shown_as("bee"))

    @dataclass(frozen=True)
    class Holder:
        one: Local = field(metadata=INLINE)
        picked: Local | None = field(default=None, metadata=only("bee", "a"))
        kind: RecipientKind = RecipientKind.CC

    same(Holder(Local(1, "x"), Local(2, "y")))
    same(Holder(Local(1), None))


@dataclass(frozen=True)
class Inner:
    a: int
    kind: RecipientKind | None = None


@dataclass(frozen=True)
class Middle:
    inner: Inner = field(metadata=INLINE)  # an INLINE record inside an INLINE record: the general body
    b: str = "b"


@dataclass(frozen=True)
class Outer:
    a: str  # the same key as Inner.a, spliced after it: the last value wins, at the first place
    inner: Inner | None = field(default=None, metadata=INLINE)
    middle: Middle | None = field(default=None, metadata=INLINE)


@dataclass(frozen=True)
class SubInner(Inner):
    c: int = 3  # a subclass where Inner goes: not the one dict display written for Inner


def test_records_written_in_place_and_the_general_body_agree() -> None:
    same(Outer("x", Inner(1, RecipientKind.TO)))
    same(Outer("x", SubInner(1), Middle(Inner(2), "m")))
    same(Outer("x", None, Middle(SubInner(2))))
    same(Outer("x"))
    same(Event(9, EventKind.BOUNCED, iso(at(1)), EventSource.DSN, None, BOUNCE, None,
               EventPlace(4, "77", "<r@x>", "b@example.net", RecipientKind.TO)))


@dataclass(frozen=True)
class Place:
    where: str = "here"


@dataclass(frozen=True)
class Spliced:
    a: str  # Inner.a, spliced after it, wins
    inner: Inner | None = field(default=None, metadata=INLINE)
    place: Place | None = field(default=None, metadata=INLINE)


@dataclass(frozen=True)
class Picks:
    # Keys of some of the inlined records only (a recipient's failure: an Event whose place is None), a key no
    # field has, keys in another order than the record's, and a record with no one dict display (Outer's Middle).
    one: Spliced | None = field(default=None, metadata=only("kind", "a", "nowhere"))
    two: Spliced | None = field(default=None, metadata=only("where", "a"))
    whole: Outer | None = field(default=None, metadata=only("b", "a", "kind"))


def test_picked_records_written_as_displays_and_the_general_body_agree() -> None:
    for inner in (None, Inner(1, RecipientKind.TO), Inner(1), SubInner(2)):
        for place in (None, Place(), Place("there")):
            spliced = Spliced("x", inner, place)
            same(Picks(spliced, spliced, Outer("y", inner, Middle(Inner(3)))))
            same(Picks(spliced, None, Outer("y", inner)))
    same(Picks())
    for record in (EMPTY, BOUNCE, FAIL):  # a recipient's failure, as maild status shows it
        failure = Event(9, EventKind.BOUNCED, iso(at(1)), EventSource.DSN, None, record)
        same(thread_info("1", None, True, [ReplyInput("<m@x>", None, iso(at(0)), (
            RecipientInput("a@example.net", RecipientKind.TO, (failure,)),))]))
