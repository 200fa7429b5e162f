"""The one JSON encoder: maild's frozen dataclasses, StrEnums, datetimes and tuples as JSON values.

Every face (``maild parse/status/events --json``, the HTTP API, webhooks,
event details) goes through ``to_json`` instead of hand-written ``to_json``
methods, so a field added to a record appears everywhere at once. A dataclass
becomes an object with its fields in declaration order; a field's metadata
can change that (``INLINE``: its own fields are spliced into the parent, as an
event's status record is; ``HIDDEN``: internal, never shown; ``only(...)``: a
nested record shown with just those fields, as a recipient's ``failure``;
``shown_as(key)``: another JSON key than the attribute's name).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from typing import Any, Final

from maild.core.times import iso

JSONValue = None | bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"]

_KEY: Final = "maild.json"
_PLAIN: Final = frozenset({str, int, float, bool, type(None)})  # exactly these types (not enums) are JSON as they are
INLINE: Final[Mapping[str, object]] = {_KEY: "inline"}
HIDDEN: Final[Mapping[str, object]] = {_KEY: "hidden"}


def only(*names: str) -> Mapping[str, object]:
    """Field metadata: show the nested record with just these of its fields, in this order."""
    return {_KEY: tuple(names)}


def shown_as(key: str) -> Mapping[str, object]:
    """Field metadata: the JSON key differs from the attribute's name (a contract's word for it)."""
    return {_KEY + ".key": key}


# Per dataclass, the plan of its fields: (attribute, JSON key, mode) with mode None, "inline" or a tuple of names.
_Plan = tuple[tuple[str, str, object], ...]
_PLANS: dict[type, _Plan] = {}


def _plan(cls: type) -> _Plan:
    plan = _PLANS.get(cls)
    if plan is None:
        plan = tuple(
            (f.name, str(f.metadata.get(_KEY + ".key", f.name)), f.metadata.get(_KEY))
            for f in dataclasses.fields(cls)
            if f.metadata.get(_KEY) != "hidden"
        )
        _PLANS[cls] = plan
    return plan


def _fill(out: dict[str, JSONValue], obj: object, names: tuple[str, ...] | None = None) -> None:
    for name, key, mode in _plan(type(obj)):
        value = getattr(obj, name)
        if mode == "inline":
            if value is not None:
                _fill(out, value, names)
            continue
        if names is not None and key not in names:
            continue
        if isinstance(mode, tuple):
            out[key] = None if value is None else _picked(value, mode)
        elif type(value) in _PLAIN:  # the common case, without a call per value
            out[key] = value
        else:
            out[key] = to_json(value)


def _picked(obj: object, names: tuple[str, ...]) -> dict[str, JSONValue]:
    found: dict[str, JSONValue] = {}
    _fill(found, obj, names)
    return {n: found[n] for n in names if n in found}


def to_json(value: Any) -> JSONValue:
    """A JSON value (for json.dumps) of a dataclass, enum, datetime, mapping, sequence or scalar."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Enum):
        return to_json(value.value)
    if isinstance(value, str):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, JSONValue] = {}
        _fill(out, value)
        return out
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, frozenset | set):
        return [to_json(v) for v in sorted(value, key=str)]  # a stable order
    raise TypeError(f"no JSON form for {type(value).__name__}")
