"""The one JSON encoder (maild.core.jsonvalue): dataclasses field by field, enums, times, inlined and picked records."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

import pytest

from maild.core.events import EventKind, RecipientKind
from maild.core.jsonvalue import HIDDEN, INLINE, only, to_json
from maild.core.record import Event, EventPlace, StatusRecord


@dataclass(frozen=True)
class Inner:
    a: int
    b: str | None = None


@dataclass(frozen=True)
class Outer:
    name: str
    inner: Inner = field(metadata=INLINE)
    secret: int = field(default=0, metadata=HIDDEN)
    picked: Inner | None = field(default=None, metadata=only("b"))
    items: tuple[Inner, ...] = ()


def test_a_dataclass_is_an_object_of_its_fields_in_declaration_order() -> None:
    assert list(to_json(Inner(1, "x"))) == ["a", "b"]  # type: ignore[arg-type]


def test_inline_splices_hidden_drops_and_only_picks() -> None:
    out = to_json(Outer("n", Inner(1, "x"), secret=7, picked=Inner(2, "y"), items=(Inner(3),)))
    assert out == {"name": "n", "a": 1, "b": "x", "picked": {"b": "y"}, "items": [{"a": 3, "b": None}]}


def test_a_missing_picked_record_is_null() -> None:
    assert to_json(Outer("n", Inner(1)))["picked"] is None  # type: ignore[index,call-overload]


def test_enums_are_their_values_and_datetimes_iso_utc() -> None:
    paris = timezone(timedelta(hours=1))
    assert to_json([EventKind.BOUNCED, datetime(2026, 3, 1, 10, 0, tzinfo=paris)]) == [
        "bounced", "2026-03-01T09:00:00.000Z"]
    assert type(to_json(RecipientKind.TO)) is str  # a plain str, so json.dumps never sees the enum


def test_sets_come_out_sorted() -> None:
    assert to_json(frozenset({"b", "a"})) == ["a", "b"]


def test_an_unknown_type_is_a_clear_error_not_a_silent_str() -> None:
    with pytest.raises(TypeError, match="no JSON form for object"):
        to_json(object())


def test_an_event_is_flat_json_with_its_record_and_place() -> None:
    ev = Event(7, EventKind.BOUNCED, "2026-03-01T09:10:00.000Z", "dsn",
               record=StatusRecord(status="5.1.1", hard=True, reporting_mta="mx.example.net"),
               recorded_at="2026-03-01T09:11:00.000Z",
               place=EventPlace(3, "1234", "<r@x>", "a@example.net", RecipientKind.CC))
    out = to_json(ev)
    assert isinstance(out, dict)
    assert "message" not in out  # internal row id
    assert (out["id"], out["kind"], out["status"], out["hard"], out["reporting_mta"], out["recipient_kind"]) == (
        7, "bounced", "5.1.1", True, "mx.example.net", "cc")
    assert json.loads(json.dumps(out)) == out
    assert datetime.fromisoformat(str(out["at"])).tzinfo == UTC


def test_shown_as_renames_the_key_and_only_picks_by_the_shown_key() -> None:
    from maild.core.jsonvalue import shown_as

    @dataclass(frozen=True)
    class Named:
        third_party: int = field(default=1, metadata=shown_as("answered_by_third_party"))

    @dataclass(frozen=True)
    class Holder:
        named: Named = field(default=Named(), metadata=only("answered_by_third_party"))

    assert to_json(Named()) == {"answered_by_third_party": 1}
    assert to_json(Holder()) == {"named": {"answered_by_third_party": 1}}
