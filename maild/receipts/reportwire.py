"""A parse's Report as marshal bytes and back: how `maild ingest`'s parse child answers without pickle.

pickle's C module costs about 8 ms of CPU to load on this host (more than the whole parse of a DSN), once per
receipt that Postfix pipes to `maild ingest`; marshal is built in. A value is sent as what marshal holds: None,
str, int, float, bool and bytes as they are; a tuple as ("t", [items]); a StrEnum member as ("e", module,
class, value); a frozen record as ("r", module, class, [(field, value)...]). Reading it back makes only classes
of maild's own modules that are records or enums, each from its fields by name, so what arrives is what was sent
or a ValueError (tests/receipts/test_reportwire.py holds the round trip to equal values of the same types over
the corpus).
"""

from __future__ import annotations

import marshal
import sys
from enum import Enum
from importlib import import_module

from maild.core.frozen import is_record, record_fields

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)
if TYPE_CHECKING:
    from typing import Any

_PLAIN = (type(None), str, int, float, bool, bytes)


def dumps(value: object) -> bytes:
    """`value` (a Report, or anything made of the types above) as marshal bytes; TypeError for another type."""
    return marshal.dumps(_plain(value))


def loads(data: bytes) -> object:
    """The value `dumps` was given; ValueError for bytes it did not write."""
    try:
        return _built(marshal.loads(data))
    except (EOFError, TypeError, KeyError, AttributeError, IndexError, ImportError) as exc:
        raise ValueError(f"not a sent value: {type(exc).__name__}: {exc}") from None


def _plain(value: object) -> Any:  # what marshal holds
    if type(value) in _PLAIN:
        return value
    if isinstance(value, Enum):
        return ("e", type(value).__module__, type(value).__qualname__, value.value)
    if type(value) is tuple:
        return ("t", [_plain(item) for item in value])
    if is_record(type(value)):
        return ("r", type(value).__module__, type(value).__qualname__,
                [(f.name, _plain(getattr(value, f.name))) for f in record_fields(type(value))])
    raise TypeError(f"cannot send a {type(value).__name__}")


def _built(sent: object) -> object:
    if not isinstance(sent, tuple):
        if isinstance(sent, list | dict | set | frozenset | complex):  # marshal holds them; dumps never writes them
            raise TypeError(f"a {type(sent).__name__} where a value was expected")
        return sent
    tag = sent[0]
    if tag == "t":
        return tuple(_built(item) for item in sent[1])
    cls = _class(sent[1], sent[2])
    if tag == "e" and issubclass(cls, Enum):
        return cls(sent[3])
    if tag == "r" and is_record(cls):
        return cls(**{name: _built(item) for name, item in sent[3]})
    raise TypeError(f"tag {tag!r} for {cls.__qualname__}")


def _class(module: str, qualname: str) -> type:
    if not (module == "maild" or module.startswith("maild.")):
        raise TypeError(f"a class of {module!r}, not of maild")
    found: object = sys.modules.get(module) or import_module(module)
    for name in qualname.split("."):
        found = getattr(found, name)
    if not isinstance(found, type):
        raise TypeError(f"{module}.{qualname} is not a class")
    return found
