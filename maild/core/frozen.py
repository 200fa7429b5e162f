"""Frozen dataclasses whose methods are shared functions instead of code generated and compiled for each class.

`dataclass(frozen=True)` writes the source of __init__, __repr__, __eq__, __hash__, __setattr__ and
__delattr__ for every class and compiles it with exec() when the module is imported: five or six compiles
per class, most of what importing the parser's values, the URLs and the settings tables cost a short command
(`maild parse`, `maild ingest`) before it read a byte. A class decorated with `frozen` is a dataclass (fields(),
replace(), is_dataclass() and the type checker see one, through dataclass_transform) whose methods are the
shared ones below: same keyword and positional construction, defaults and default factories, field-wise
repr, equality and hash, and assignment refused with FrozenInstanceError.

The shared __init__ is a few times slower per object than a generated one, which matters for the records made
by the thousand (an events page, a thread's statuses). So a class constructed often gets one compiled
__init__ of its own at its `COMPILE_ON_USE`-th construction: one compile instead of dataclass()'s six, paid
only by the classes that are made many times, never by a settings table made once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import MISSING, FrozenInstanceError
from typing import Any, TypeVar, dataclass_transform

T = TypeVar("T")
COMPILE_ON_USE = 16  # constructions of a class before it gets a compiled __init__


class _Plan:
    """What the shared methods need of one class, read from its fields once."""

    __slots__ = ("name", "init", "shown", "compared", "uses")

    def __init__(self, cls: type) -> None:
        fields = dataclasses.fields(cls)
        self.name = cls.__name__
        self.init: tuple[tuple[str, Any, Callable[[], Any] | Any], ...] = tuple(
            (f.name, f.default, f.default_factory) for f in fields
        )
        self.shown = tuple(f.name for f in fields if f.repr)
        self.compared = tuple(f.name for f in fields if f.compare)
        self.uses = 0


def _compiled_init(cls: type, plan: _Plan) -> Callable[..., None] | None:
    """An __init__ for `cls` written for its fields, as dataclass() writes one; None when its fields cannot be
    parameters in order (a required field after one with a default): the shared one serves those."""
    params, lines = ["self"], []
    scope: dict[str, Any] = {"_frozen_set_": object.__setattr__, "_frozen_missing_": MISSING}
    seen_default = False
    for i, (name, default, factory) in enumerate(plan.init):
        if not name.isidentifier() or name == "self" or name.startswith("_frozen_"):
            return None
        if default is not MISSING:
            scope[f"_frozen_d{i}_"] = default
            params.append(f"{name}=_frozen_d{i}_")
            lines.append(f"_frozen_set_(self, {name!r}, {name})")
        elif factory is not MISSING:
            scope[f"_frozen_f{i}_"] = factory
            params.append(f"{name}=_frozen_missing_")
            lines.append(f"_frozen_set_(self, {name!r}, _frozen_f{i}_() if {name} is _frozen_missing_ else {name})")
        elif seen_default:
            return None
        else:
            params.append(name)
            lines.append(f"_frozen_set_(self, {name!r}, {name})")
        seen_default = seen_default or default is not MISSING or factory is not MISSING
    source = f"def __init__({', '.join(params)}):\n    " + ("\n    ".join(lines) or "pass") + "\n"
    # Our own field names (identifiers, checked above), as dataclass() writes them; the file name tells the
    # compiled __init__ from dataclass() code.
    exec(compile(source, f"<maild.core.frozen {cls.__qualname__}>", "exec"), scope)
    init: Callable[..., None] = scope["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init


_PLANS: dict[type, _Plan] = {}


def _plan(cls: type) -> _Plan:
    plan = _PLANS.get(cls)
    if plan is None:
        plan = _PLANS[cls] = _Plan(cls)  # a subclass decorated again, or not at all
    return plan


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field,))
def frozen(cls: type[T]) -> type[T]:
    """Make `cls` a frozen dataclass with the shared methods (no slots: a slotted class is built twice)."""
    # dataclass() writes a missing docstring from inspect.signature(), costly in itself: every class has its own.
    cls.__doc__ = cls.__doc__ or f"{cls.__name__}: a frozen record."
    cls = dataclasses.dataclass(init=False, repr=False, eq=False)(cls)
    if not all(f.init for f in dataclasses.fields(cls)):  # type: ignore[arg-type]  # cls is a dataclass now
        raise TypeError(f"{cls.__name__}: every field of a frozen record is set by its constructor")
    for name, method in (
        ("__init__", _init), ("__repr__", _repr), ("__eq__", _eq), ("__hash__", _hash),
        ("__setattr__", _setattr), ("__delattr__", _delattr),
    ):
        setattr(cls, name, method)
    _PLANS[cls] = _Plan(cls)
    return cls


def _init(self: Any, *args: Any, **kwargs: Any) -> None:
    cls = type(self)
    plan = _PLANS.get(cls) or _plan(cls)
    plan.uses += 1
    if plan.uses == COMPILE_ON_USE and cls.__init__ is _init:
        compiled = _compiled_init(cls, plan)
        if compiled is not None:
            type.__setattr__(cls, "__init__", compiled)
            compiled(self, *args, **kwargs)
            return
    if args:
        if len(args) > len(plan.init):
            raise TypeError(f"{plan.name}() takes {len(plan.init)} positional arguments but {len(args)} were given")
        for (name, _default, _factory), value in zip(plan.init, args, strict=False):
            if name in kwargs:
                raise TypeError(f"{plan.name}() got multiple values for argument {name!r}")
            kwargs[name] = value
    put = object.__setattr__
    for name, default, factory in plan.init:
        if name in kwargs:
            value = kwargs.pop(name)
        elif default is not MISSING:
            value = default
        elif factory is not MISSING:
            value = factory()
        else:
            raise TypeError(f"{plan.name}() missing required argument: {name!r}")
        put(self, name, value)
    if kwargs:
        raise TypeError(f"{plan.name}() got an unexpected keyword argument {next(iter(kwargs))!r}")


def _values(self: Any) -> tuple[Any, ...]:
    return tuple(getattr(self, name) for name in (_PLANS.get(type(self)) or _plan(type(self))).compared)


def _repr(self: Any) -> str:
    plan = _PLANS.get(type(self)) or _plan(type(self))
    shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in plan.shown)
    return f"{type(self).__qualname__}({shown})"


def _eq(self: Any, other: object) -> object:  # bool, or NotImplemented for another class
    if other.__class__ is not self.__class__:
        return NotImplemented
    return _values(self) == _values(other)


def _hash(self: Any) -> int:
    return hash(_values(self))


def _setattr(self: Any, name: str, value: Any) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _delattr(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")
