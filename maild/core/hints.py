"""Run-time stand-ins for the names of typing that run at import (Protocol, Generic, TypeVar, cast...): commands start without typing.

Importing typing costs about 10 ms of CPU on this host (its module body, contextlib and the rest), a sixth of the
60 ms a short command (`maild status`, `events`, `queue list`) may take to start, and those commands never ask a
type about itself. A module on their path writes

    TYPE_CHECKING = False
    if TYPE_CHECKING:
        from typing import Protocol, TypeVar
    else:
        from maild.core.hints import Protocol, TypeVar

mypy treats any name TYPE_CHECKING as true and reads only the first branch, so every type it checks is typing's; at
run time the names below do what typing's do for code that only defines classes with them and calls them:
`TypeVar` names a variable, `Generic[T]` and `Protocol[T]` are the class itself, `cast` returns its value, the
decorators return what they decorate. A protocol marked `runtime_checkable` answers isinstance() as typing's does
(every method and attribute the protocol names is present on the object), and a class that implements it by
naming it among its bases is checked by class alone, as typing's is; any other protocol is an ordinary base.
Names used only in annotations (Any, TextIO, ...) need no stand-in: `from __future__ import annotations` keeps them
text, and the import goes under `if TYPE_CHECKING:`. tests/core/test_hints.py holds the stand-ins to typing's.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


def TypeVar(name: str, *constraints: object, bound: object = None, covariant: bool = False, contravariant: bool = False) -> str:
    """A type variable's name: nothing at run time reads more of it."""
    return name


def cast(typ: object, value: object) -> object:
    """The value itself, as typing.cast returns it."""
    return value


def dataclass_transform(**kwargs: object) -> Callable[[object], object]:
    """A decorator that returns what it decorates (typing's sets a marker that only type checkers read)."""
    return lambda decorated: decorated


class Generic:
    """A base whose subscription (`Generic[T]`, `Rows[int]`) is the class itself."""

    __slots__ = ()

    def __class_getitem__(cls, item: object) -> type:
        return cls


def _members(cls: type) -> frozenset[str]:
    """The names a protocol declares, its bases' protocols' included (what an object must have to be one)."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if isinstance(klass, _ProtocolMeta) and klass is not Protocol:
            names.update(n for n in (*vars(klass), *vars(klass).get("__annotations__", {})) if not n.startswith("_"))
    return frozenset(names)


class _ProtocolMeta(type):
    def __instancecheck__(cls, instance: object) -> bool:
        if type.__instancecheck__(cls, instance):
            return True
        # only a protocol is checked by its members: a class that implements one by naming it is a class like any other
        if not (getattr(cls, "_is_protocol", False) and getattr(cls, "_is_runtime_protocol", False)):
            return False
        return all(hasattr(instance, name) for name in _members(cls))


class Protocol(Generic, metaclass=_ProtocolMeta):
    """A base for protocol classes; isinstance() checks the protocol's members when it is `runtime_checkable`."""

    __slots__ = ()
    _is_protocol = False  # Protocol itself; each subclass says its own (below)

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls._is_protocol = Protocol in cls.__bases__  # as typing's: a protocol names Protocol among its bases


def runtime_checkable(cls: type) -> type:
    """Mark a protocol so that isinstance() checks for its members, as typing.runtime_checkable does."""
    if not getattr(cls, "_is_protocol", False):
        raise TypeError(f"@runtime_checkable can be applied to protocol classes only, not {cls!r}")
    cls._is_runtime_protocol = True  # type: ignore[attr-defined]
    return cls
