"""The one JSON encoder: maild's frozen dataclasses, StrEnums, datetimes and tuples as JSON values.

Every face (``maild parse/status/events --json``, the HTTP API, webhooks,
event details) goes through ``to_json`` instead of hand-written ``to_json``
methods, so a field added to a record appears everywhere at once. A dataclass
becomes an object with its fields in declaration order; a field's metadata
can change that (``INLINE``: its own fields are spliced into the parent, as an
event's status record is; ``HIDDEN``: internal, never shown; ``only(...)``: a
nested record shown with just those fields, as a recipient's ``failure``;
``shown_as(key)``: another JSON key than the attribute's name).

Each dataclass type gets its own encoder, written once from its fields and
their annotations the first time one is encoded (as ``dataclasses`` writes
``__init__``): a plain ``str``/``int``/``bool`` field is copied, a StrEnum
field becomes its value, anything else goes back through ``to_json``. So the
rules above are read once per type, not once per value: this runs for every
event of an events page and every recipient of ``maild status``. The encoder
builds its object as one dict display, the fields of INLINE records written in
place, whenever each of those records is exactly its declared type; an
``only(...)`` field likewise gets one display of just its keys (``picker``).
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable, Mapping
from datetime import datetime
from enum import Enum, StrEnum

from maild.core.frozen import is_record, record_fields
from maild.core.times import iso

TYPE_CHECKING = False  # not typing's: a command that prints no record never imports typing (maild.core.hints)
if TYPE_CHECKING:
    from typing import Any, Final

JSONValue = None | bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"]
Encoder = Callable[[object], dict[str, JSONValue]]

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


_ENCODERS: dict[type, Encoder] = {}
_WRITING: set[type] = set()  # types whose encoder is being written (a record that holds its own type)


def encoder(cls: type) -> Encoder:
    """The encoder of one dataclass type (written on first use, then kept)."""
    enc = _ENCODERS.get(cls)
    if enc is None:
        _WRITING.add(cls)
        try:
            enc = _ENCODERS[cls] = _write_encoder(cls)
        finally:
            _WRITING.discard(cls)
    return enc


def _hints(cls: type) -> dict[str, Any]:
    """Each field's annotation evaluated as typing.get_type_hints would, without importing typing (a command's
    start-up): a name the annotation's module lacks at run time (typing's Any, a type imported for mypy alone, a
    type local to a function) leaves that field out, and it takes the general path, as typing's forms do anyway."""
    hints: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        module = sys.modules.get(klass.__module__)
        scope = vars(module) if module is not None else {}
        for name, annotation in vars(klass).get("__annotations__", {}).items():
            if isinstance(annotation, str):
                try:
                    annotation = eval(annotation, dict(scope), dict(vars(klass)))  # the class's own annotation text, as get_type_hints does
                except (NameError, TypeError, AttributeError, SyntaxError):
                    hints.pop(name, None)
                    continue
            hints[name] = type(None) if annotation is None else annotation
    return hints


class _Writer:
    """The text of one dataclass's encoder, and the names it refers to."""

    def __init__(self) -> None:
        self.scope: dict[str, Any] = {"to_json": to_json, "_PLAIN": _PLAIN, "_pick": _pick}

    def name(self, value: object) -> str:
        key = f"_{len(self.scope)}"
        self.scope[key] = value
        return key

    def record(self, cls: type, value: str) -> str:
        """A nested record's JSON: its own encoder when the value is exactly that type, else the general path."""
        if cls in _WRITING:
            return f"to_json({value})"
        return f"({self.name(encoder(cls))}(x) if type(x := {value}) is {self.name(cls)} else to_json(x))"

    def picked(self, annotation: Any, attr: str, names: tuple[str, ...]) -> str:
        """An `only(...)` field's JSON: just those keys of the nested record, in that order (a recipient's failure).

        Written as one dict display of those keys when the record is exactly its declared type, so a failure is
        not encoded whole and then picked from (`maild status` shows one per failed recipient)."""
        general = f"_pick(to_json(v), {names!r})"
        cls = _inline_class(annotation)
        if cls is None or cls in _WRITING:
            return f"(None if (v := {attr}) is None else {general})"
        return f"(None if (v := {attr}) is None else ({self.name(picker(cls, names))}(v) if type(v) is {self.name(cls)} else {general}))"

    def value(self, annotation: Any, attr: str) -> str:
        """The expression for one field's JSON value, chosen by its annotation."""
        args = getattr(annotation, "__args__", ()) if isinstance(annotation, types.UnionType) else (annotation,)
        if args and all(a in _PLAIN for a in args):
            return attr  # str, int, bool, float, None: JSON as they are
        rest = [a for a in args if a is not type(None)]
        if getattr(annotation, "__origin__", None) is tuple:  # tuple[X, ...]: a list
            item = annotation.__args__[0]
            if isinstance(item, type) and is_record(item):
                return f"[{self.record(item, 'v')} for v in {attr}]"
            return f"[to_json(v) for v in {attr}]"
        if len(rest) == 1 and isinstance(rest[0], type):
            if issubclass(rest[0], StrEnum):  # str() of a member is its value as a plain str; a str stays itself
                return f"(None if (v := {attr}) is None else str(v))"
            if is_record(rest[0]):  # None, if allowed, takes the general path
                return self.record(rest[0], attr)
        return f"(v if type(v := {attr}) in _PLAIN else to_json(v))"


def _inline_class(annotation: Any) -> type | None:
    """The one dataclass an INLINE field holds (None allowed beside it), else None."""
    args = getattr(annotation, "__args__", ()) if isinstance(annotation, types.UnionType) else (annotation,)
    rest = [a for a in args if a is not type(None)]
    if len(rest) == 1 and isinstance(rest[0], type) and is_record(rest[0]):
        return rest[0]
    return None


# One `key: value` entry of a dict display: the key, its expression, and the inlined records' locals it reads
# (each must hold exactly its declared type for the entry to be there: see `_display`).
Entry = tuple[str, str, frozenset[str]]


def _display(cls: type, w: _Writer, obj: str, guards: list[tuple[str, str, str]], nested: bool = False,
             needs: frozenset[str] = frozenset()) -> list[Entry] | None:
    """The entries of one dict display of `cls` read from `obj`, each INLINE record's fields in its place.

    An inlined record is read into a local whose exact type the encoder checks first (`guards`: local, attribute,
    class); None when a field cannot be written so (an INLINE field of an inlined record, or of no one dataclass).
    """
    hints = _hints(cls)
    items: list[Entry] = []
    for f in record_fields(cls):
        mode = f.metadata.get(_KEY)
        key = str(f.metadata.get(_KEY + ".key", f.name))
        attr = f"{obj}.{f.name}"
        if mode == "hidden":
            continue
        if mode == "inline":
            inner = _inline_class(hints.get(f.name))
            if nested or inner is None or inner in _WRITING:
                return None
            local = f"i{len(guards)}"
            guards.append((local, attr, w.name(inner)))
            spliced = _display(inner, w, local, guards, nested=True, needs=needs | {local})
            if spliced is None:
                return None
            items += spliced
        elif isinstance(mode, tuple):
            items.append((key, w.picked(hints.get(f.name), attr, mode), needs))
        else:
            items.append((key, w.value(hints.get(f.name), attr), needs))
    return items


def _text(entries: list[Entry]) -> str:
    return "{" + ", ".join(f"{key!r}: {expr}" for key, expr, _ in entries) + "}"


def _write_encoder(cls: type) -> Encoder:
    hints = _hints(cls)
    w = _Writer()
    lines = ["def encode(o):"]
    # First one dict display, inlined records written in place (an event of a page: one dict built at once
    # instead of a dict, two nested encoders and two updates, about half the encoder's time); it is taken
    # when each inlined record is exactly its type, else (None, a subclass) the general body below.
    guards: list[tuple[str, str, str]] = []
    display = _display(cls, w, "o", guards)
    if display is not None:
        lines += [f"    {local} = {attr}" for local, attr, _ in guards]
        if guards:
            lines.append("    if " + " and ".join(f"type({local}) is {c}" for local, _, c in guards) + ":")
        lines.append(("        " if guards else "    ") + "return " + _text(display))
    if display is None or guards:
        lines.append("    d = {}")
        for f in record_fields(cls):
            mode = f.metadata.get(_KEY)
            key = str(f.metadata.get(_KEY + ".key", f.name))
            attr = f"o.{f.name}"
            if mode == "hidden":
                continue
            if mode == "inline":  # the nested record's keys, in its order, at this place; none when it is None
                lines += [f"    if (v := {attr}) is not None:", f"        d.update({w.value(hints.get(f.name), 'v')})"]
            elif isinstance(mode, tuple):
                lines.append(f"    d[{key!r}] = {w.picked(hints.get(f.name), attr, mode)}")
            else:
                lines.append(f"    d[{key!r}] = {w.value(hints.get(f.name), attr)}")
        lines.append("    return d")
    exec("\n".join(lines), w.scope)  # noqa: S102 - our own text, made from the dataclass's field names
    enc: Encoder = w.scope["encode"]
    enc.__qualname__ = f"encoder of {cls.__qualname__}"
    return enc


_PICKERS: dict[tuple[type, tuple[str, ...]], Encoder] = {}


def picker(cls: type, names: tuple[str, ...]) -> Encoder:
    """`_pick(encoder(cls)(o), names)` of an `o` of exactly `cls`, written once per class and names as one display.

    The display takes only the picked keys (in `names`' order, as `_pick` gives them) and checks only the inlined
    records those keys come from; when one of them is not exactly its type (None, a subclass), or `cls` cannot be
    written as one display, it is the general path: the whole record encoded, then picked.
    """
    found = _PICKERS.get((cls, names))
    if found is not None:
        return found
    w = _Writer()
    guards: list[tuple[str, str, str]] = []
    display = _display(cls, w, "o", guards)
    general = f"return _pick(to_json(o), {names!r})"
    lines = ["def pick(o):"]
    if display is None:
        lines.append("    " + general)
    else:
        last = {key: (expr, needs) for key, expr, needs in display}  # a later key wins, as in the dict display
        entries = [(n, *last[n]) for n in names if n in last]
        needed = frozenset().union(*(needs for key, _, needs in display if key in names))
        checked = [(local, attr, c) for local, attr, c in guards if local in needed]
        lines += [f"    {local} = {attr}" for local, attr, _ in checked]
        if checked:
            lines.append("    if " + " and ".join(f"type({local}) is {c}" for local, _, c in checked) + ":")
            lines += ["        return " + _text(entries), "    " + general]
        else:
            lines.append("    return " + _text(entries))
    exec("\n".join(lines), w.scope)  # noqa: S102 - our own text, made from the dataclass's field names
    enc: Encoder = w.scope["pick"]
    enc.__qualname__ = f"picker of {cls.__qualname__} {names}"
    _PICKERS[(cls, names)] = enc
    return enc


def _pick(full: JSONValue, names: tuple[str, ...]) -> dict[str, JSONValue]:
    assert isinstance(full, dict)
    return {n: full[n] for n in names if n in full}


def to_json(value: Any) -> JSONValue:
    """A JSON value (for json.dumps) of a dataclass, enum, datetime, mapping, sequence or scalar."""
    kind = type(value)
    enc = _ENCODERS.get(kind)
    if enc is not None:  # a dataclass seen before: the common case
        return enc(value)
    if kind in _PLAIN:
        return value  # type: ignore[no-any-return]
    if kind is tuple or kind is list:  # before the ABC checks below, which cost more
        return [to_json(v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Enum):
        return to_json(value.value)
    if isinstance(value, str):
        return str(value)
    if is_record(value) and not isinstance(value, type):
        return encoder(type(value))(value)
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, frozenset | set):
        return [to_json(v) for v in sorted(value, key=str)]  # a stable order
    raise TypeError(f"no JSON form for {type(value).__name__}")
