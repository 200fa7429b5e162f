"""Frozen records: typed immutable classes whose methods are shared functions, made without the dataclasses module.

`dataclass(frozen=True)` writes the source of __init__, __repr__, __eq__, __hash__, __setattr__ and
__delattr__ for every class and compiles it with exec() when the module is imported: five or six compiles
per class, most of what importing the parser's values, the URLs and the settings tables cost a short command
(`maild parse`, `maild ingest`) before it read a byte. And importing `dataclasses` itself loads inspect with
ast, dis and tokenize: about a tenth of `maild status`'s start-up. A class decorated with `frozen` reads its
fields from its annotations here (`fields()`, `field()`, `replace()`) and gets the shared methods below: same
keyword and positional construction, defaults and default factories, field-wise repr, equality and hash, and
assignment refused with dataclasses.FrozenInstanceError.

It is still a dataclass to whoever asks: `dataclasses.fields()`, `replace()`, `asdict()` and `is_dataclass()`
read `__dataclass_fields__`, which a frozen record makes on that first read, by running dataclass() (without
its generated methods) over the same fields, so only code that asks pays for the dataclasses module.
`field()` here and `dataclasses.field()` are both understood in a class body.

A record is slotted, as `dataclass(slots=True)` makes one: the class is made again with `__slots__` from its
fields (about 20 us a class, no compile), so a record has no instance `__dict__`: 104 bytes and one object
for an Event of nine fields against 200 bytes and two (a dict, which the garbage collector counts too). An
events page makes 1,000 Events. As with slots=True, a field's default is no longer a class attribute (read it
with `fields()`), and pickling goes through __getstate__/__setstate__. A class that declares its own
`__slots__`, or whose field is a data descriptor of the class (a property), is left as it is.

The shared __init__ is a few times slower per object than a generated one, which matters for the records made
by the thousand (an events page, a thread's statuses). So a class constructed often gets one compiled
__init__ of its own at its `COMPILE_ON_USE`-th construction: one compile instead of dataclass()'s six, paid
only by the classes that are made many times, never by a settings table made once. A slotted record of five
fields or more is made there as its twin (a subclass with the same slots and object's __setattr__), whose
attribute stores the interpreter does in place, and then given its own class: an Event in 0.84 against 1.38 us
through its slots' setters, and `maild status` makes some 70 records a ticket, an events page 2,000.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from types import MappingProxyType, MemberDescriptorType

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)
if TYPE_CHECKING:
    from typing import Any, TypeVar, dataclass_transform
else:
    from maild.core.hints import TypeVar, dataclass_transform

T = TypeVar("T")
COMPILE_ON_USE = 16  # constructions of a class before it gets a compiled __init__


class _Missing:
    """No default: the field is required (dataclasses.MISSING's role)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
_NO_METADATA: Mapping[Any, Any] = MappingProxyType({})


class Field:
    """One field of a frozen record, with the public attributes of a dataclasses.Field."""

    __slots__ = ("name", "type", "default", "default_factory", "init", "repr", "compare", "metadata")

    def __init__(
        self, default: Any, default_factory: Any, init: bool, repr: bool, compare: bool, metadata: Mapping[Any, Any] | None
    ) -> None:
        if default is not MISSING and default_factory is not MISSING:
            raise ValueError("cannot specify both default and default_factory")
        self.name = ""
        self.type: Any = None
        self.default = default
        self.default_factory = default_factory
        self.init = init
        self.repr = repr
        self.compare = compare
        self.metadata = _NO_METADATA if not metadata else MappingProxyType(dict(metadata))

    def __repr__(self) -> str:
        return f"Field(name={self.name!r}, default={self.default!r}, default_factory={self.default_factory!r})"


def field(
    *, default: Any = MISSING, default_factory: Any = MISSING, init: bool = True, repr: bool = True,
    compare: bool = True, metadata: Mapping[Any, Any] | None = None,
) -> Any:
    """A field's options in a class body, as dataclasses.field(): its default or default factory, whether it is
    shown by repr and compared, and its metadata (for the JSON encoder, the settings tables)."""
    return Field(default, default_factory, init, repr, compare, metadata)


def _spec(value: Any) -> Field:
    """The Field a class attribute declares: one of ours, a dataclasses.field(), or a plain default."""
    if isinstance(value, Field):
        return value  # named and typed in place, as dataclass() does with its own Field objects
    stdlib = sys.modules.get("dataclasses")  # a dataclasses.field() in the body means its module is loaded
    if stdlib is not None and isinstance(value, stdlib.Field):
        return Field(
            MISSING if value.default is stdlib.MISSING else value.default,
            MISSING if value.default_factory is stdlib.MISSING else value.default_factory,
            value.init, value.repr, value.compare, value.metadata,
        )
    return Field(value, MISSING, True, True, True, None)


def _is_classvar(annotation: Any) -> bool:
    if isinstance(annotation, str):  # `from __future__ import annotations`: the annotation as written
        return annotation.startswith(("ClassVar", "typing.ClassVar"))
    typing = sys.modules.get("typing")  # an annotation that is a typing.ClassVar object means typing is loaded
    return typing is not None and (annotation is typing.ClassVar or typing.get_origin(annotation) is typing.ClassVar)


def _unsupported(annotation: Any) -> bool:
    """InitVar and KW_ONLY pseudo-fields, which frozen records do not take."""
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "") or repr(annotation)
    return "InitVar" in text or "KW_ONLY" in text


def _declare(cls: type) -> tuple[tuple[Field, ...], tuple[str, ...]]:
    """The fields of `cls` in dataclass() order (its bases' first, then its own), and the names it declares itself."""
    found: dict[str, Field] = {}
    for base in reversed(cls.__mro__[1:]):
        if "__dataclass_fields__" in base.__dict__ and "__frozen_fields__" not in base.__dict__:
            raise TypeError(f"{cls.__name__}: a frozen record cannot extend the dataclass {base.__name__}")
        for f in base.__dict__.get("__frozen_fields__", ()):
            found[f.name] = f
    annotations: dict[str, Any] = cls.__dict__.get("__annotations__", {})
    own = []
    for name, annotation in annotations.items():
        if _is_classvar(annotation):
            continue
        if _unsupported(annotation):
            raise TypeError(f"{cls.__name__}.{name}: a frozen record takes neither InitVar nor KW_ONLY")
        value = cls.__dict__.get(name, MISSING)
        spec = _spec(value)
        spec.name, spec.type = name, annotation
        if not spec.init:
            raise TypeError(f"{cls.__name__}: every field of a frozen record is set by its constructor")
        if spec.default is not MISSING and type(spec.default).__hash__ is None:  # as dataclass() refuses them
            raise ValueError(f"mutable default {type(spec.default)} for field {name} is not allowed: use default_factory")
        if value is not MISSING and spec.default is MISSING:
            delattr(cls, name)  # a field() without a default leaves no class attribute, as in a dataclass
        elif value is not spec.default:
            setattr(cls, name, spec.default)
        found[name] = spec
        own.append(name)
    for name, value in cls.__dict__.items():
        if isinstance(value, Field) and name not in annotations:
            raise TypeError(f"{cls.__name__}.{name} is a field but has no type annotation")
    return tuple(found.values()), tuple(own)


class _Plan:
    """What the shared methods need of one class, read from its fields once."""

    __slots__ = ("name", "init", "shown", "compared", "uses")

    def __init__(self, cls: type) -> None:
        fields: tuple[Field, ...] = getattr(cls, "__frozen_fields__", ())
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
    # A slot's own setter when the field is a slot (a slotted record: 1.4 against 1.9 us with object.__setattr__
    # for nine fields); else into the instance's __dict__ directly when that is what object.__setattr__ would do
    # (no slots, no data descriptor of a field's name on the class): an item store instead of a call per field.
    names = [name for name, _, _ in plan.init]
    slots = [_slot(cls, name) for name in names]
    plain = not any(slots) and _plain_dict(cls, names)
    if plain:
        lines.append("_frozen_d_ = self.__dict__")
    seen_default = False
    for i, (name, default, factory) in enumerate(plan.init):
        if not name.isidentifier() or name == "self" or name.startswith("_frozen_"):
            return None
        slot = slots[i]
        if slot is not None:
            scope[f"_frozen_s{i}_"] = slot.__set__
            put = f"_frozen_s{i}_(self, {{}})"
        elif plain:
            put = f"_frozen_d_[{name!r}] = {{}}"
        else:
            put = f"_frozen_set_(self, {name!r}, {{}})"
        if default is not MISSING:
            scope[f"_frozen_d{i}_"] = default
            params.append(f"{name}=_frozen_d{i}_")
            lines.append(put.format(name))
        elif factory is not MISSING:
            scope[f"_frozen_f{i}_"] = factory
            params.append(f"{name}=_frozen_missing_")
            lines.append(put.format(f"_frozen_f{i}_() if {name} is _frozen_missing_ else {name}"))
        elif seen_default:
            return None
        else:
            params.append(name)
            lines.append(put.format(name))
        seen_default = seen_default or default is not MISSING or factory is not MISSING
    body = "\n    ".join(lines) or "pass"
    twin = _twin(cls) if all(slots) and len(names) >= _TWIN_FIELDS else None
    if twin is not None:
        # Made as its twin (the same slots, object's __setattr__): plain attribute stores, which the interpreter
        # does in place, then given its class; a subclass that inherits this __init__ takes the setters.
        scope["_frozen_cls_"], scope["_frozen_twin_"] = cls, twin
        stores = "\n        ".join(line.replace(f"_frozen_s{i}_(self, ", f"self.{names[i]} = (", 1)
                                    for i, line in enumerate(lines))
        body = ("if type(self) is _frozen_cls_:\n        _frozen_set_(self, '__class__', _frozen_twin_)\n        "
                + stores + "\n        self.__class__ = _frozen_cls_\n    else:\n        "
                + "\n        ".join(lines))
    source = f"def __init__({', '.join(params)}):\n    " + body + "\n"
    # Our own field names (identifiers, checked above), as dataclass() writes them; the file name tells the
    # compiled __init__ from dataclass() code.
    exec(compile(source, f"<maild.core.frozen {cls.__qualname__}>", "exec"), scope)
    init: Callable[..., None] = scope["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init


# Fields from which a record is made faster as its twin than through its slots' setters: two class assignments
# cost about what three or four setter calls do (9 fields: 0.84 against 1.38 us an Event).
_TWIN_FIELDS = 5


def _twin(cls: type) -> type | None:
    """A subclass of the slotted record `cls` with no slot of its own and object's __setattr__, so an instance
    made as the twin takes plain attribute stores and can then be given `cls` as its class (the same layout).

    None for a class whose subclasses run code of their own when made (a metaclass, __init_subclass__)."""
    if type(cls) is not type or any("__init_subclass__" in vars(c) for c in cls.__mro__[:-1]):
        return None
    return type(cls.__name__, (cls,), {"__slots__": (), "__setattr__": object.__setattr__,
                                       "__delattr__": object.__delattr__, "__module__": cls.__module__,
                                       "__qualname__": f"{cls.__qualname__}.<being made>"})


def _slot(cls: type, name: str) -> Any:
    """The slot that holds field `name` of `cls` (what object.__setattr__ would set), or None."""
    for c in cls.__mro__:
        if name in vars(c):
            found = vars(c)[name]
            return found if isinstance(found, MemberDescriptorType) else None
    return None


def _plain_dict(cls: type, names: list[str]) -> bool:
    """Whether setting these attributes with object.__setattr__ only stores them in the instance's __dict__."""
    if any("__slots__" in vars(c) for c in cls.__mro__ if c is not object):
        return False  # a slotted class (or base): its fields may be slots, not __dict__ items
    for name in names:
        for c in cls.__mro__:
            if name in vars(c):
                found = type(vars(c)[name])
                if hasattr(found, "__set__") or hasattr(found, "__delete__"):
                    return False  # a data descriptor (property, slot member) takes the assignment
                break
    return True


_PLANS: dict[type, _Plan] = {}


def _plan(cls: type) -> _Plan:
    plan = _PLANS.get(cls)
    if plan is None:
        plan = _PLANS[cls] = _Plan(cls)  # a subclass decorated again, or not at all
    return plan


class _DataclassFields:
    """A frozen record's `__dataclass_fields__`, made on first read: the stdlib's Field objects need its module."""

    def __get__(self, instance: object, owner: type) -> Any:
        holder = next(c for c in owner.__mro__ if c.__dict__.get("__dataclass_fields__") is self)
        _as_dataclass(holder)
        return getattr(owner, "__dataclass_fields__")  # noqa: B009 - now the stdlib's, set on `holder`


_DATACLASS_FIELDS = _DataclassFields()


def _as_dataclass(cls: type) -> None:
    """Run dataclass() over `cls` as frozen() declared it, without generating any method: fields(), replace(),
    asdict() and is_dataclass() of the stdlib then see the same fields, defaults and metadata."""
    import dataclasses

    type.__delattr__(cls, "__dataclass_fields__")
    own: tuple[str, ...] = cls.__dict__["__frozen_own__"]
    before: dict[str, Any] = {}
    for f in cls.__dict__["__frozen_fields__"]:
        if f.name in own:  # a dataclasses.field() in the class body, as dataclass() reads one
            before[f.name] = cls.__dict__.get(f.name, MISSING)
            type.__setattr__(cls, f.name, dataclasses.field(
                default=dataclasses.MISSING if f.default is MISSING else f.default,
                default_factory=dataclasses.MISSING if f.default_factory is MISSING else f.default_factory,
                repr=f.repr, compare=f.compare, metadata=f.metadata,
            ))
    dataclasses.dataclass(init=False, repr=False, eq=False)(cls)
    for name, value in before.items():  # as it was: dataclass() left a default where a slot may have been
        if value is not MISSING:
            type.__setattr__(cls, name, value)
        elif name in cls.__dict__:
            type.__delattr__(cls, name)


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def frozen(cls: type[T]) -> type[T]:
    """Make `cls` a frozen slotted record with the shared methods (the class is made again, with `__slots__`)."""
    cls.__doc__ = cls.__doc__ or f"{cls.__name__}: a frozen record."
    fields, own = _declare(cls)
    cls = _slotted(cls, fields)
    slotted = "__slots__" in cls.__dict__
    for name, value in (
        ("__frozen_fields__", fields), ("__frozen_own__", own), ("__dataclass_fields__", _DATACLASS_FIELDS),
        ("__init__", _init), ("__repr__", _repr), ("__eq__", _eq), ("__hash__", _hash),
        ("__setattr__", _setattr), ("__delattr__", _delattr),
        ("__getstate__", _getstate if slotted else None), ("__setstate__", _setstate if slotted else None),
    ):
        if value is None or (name in ("__repr__", "__getstate__", "__setstate__") and name in cls.__dict__):
            continue  # the class's own (a repr that hides a secret), as dataclass() keeps it
        type.__setattr__(cls, name, value)
    if "__match_args__" not in cls.__dict__:
        type.__setattr__(cls, "__match_args__", tuple(f.name for f in fields))
    _PLANS[cls] = _Plan(cls)
    return cls


def _slotted(cls: type[T], fields: tuple[Field, ...]) -> type[T]:
    """`cls` made again with a slot per field it does not inherit one for, as dataclass(slots=True) does it.

    Left as it is: a class that declares `__slots__` itself, and one whose field is a data descriptor of the
    class or a base (a property: a slot of that name would replace it) or that holds a cached_property (it needs
    the instance's __dict__).
    """
    body = dict(cls.__dict__)
    if "__slots__" in body:
        return cls
    inherited: set[str] = set()
    for base in cls.__mro__[1:-1]:
        declared = base.__dict__.get("__slots__", ())
        inherited.update((declared,) if isinstance(declared, str) else declared)
    names = [f.name for f in fields]
    for name in names:
        for c in cls.__mro__:
            if name in c.__dict__:
                found = c.__dict__[name]
                if c is not cls and isinstance(found, MemberDescriptorType):
                    break  # a base's slot
                if hasattr(type(found), "__set__") or hasattr(type(found), "__delete__"):
                    return cls
                break
    functools = sys.modules.get("functools")  # a cached_property exists only once its module is loaded
    if functools is not None and any(isinstance(v, functools.cached_property) for v in body.values()):
        return cls
    body["__slots__"] = tuple(name for name in names if name not in inherited)
    for name in names:
        body.pop(name, None)  # the defaults are the Fields' (a class attribute would hide the slot)
    body.pop("__dict__", None)
    body.pop("__weakref__", None)
    metaclass: type = type(cls)
    made: type[T] = metaclass(cls.__name__, cls.__bases__, body)
    made.__qualname__ = cls.__qualname__
    for value in body.values():  # zero-argument super() and __class__ in methods name the class made here
        for func in _functions(value):
            code, closure = getattr(func, "__code__", None), getattr(func, "__closure__", None)
            if code is not None and closure and "__class__" in code.co_freevars:
                cell = closure[code.co_freevars.index("__class__")]
                if cell.cell_contents is cls:
                    cell.cell_contents = made
    return made


def _functions(value: Any) -> tuple[Any, ...]:
    if isinstance(value, (classmethod, staticmethod)):
        return (value.__func__,)
    if isinstance(value, property):
        return (value.fget, value.fset, value.fdel)
    return (value,)


def _getstate(self: Any) -> list[Any]:
    """A slotted record's state for pickle and copy: its field values in order (dataclass(slots=True)'s)."""
    return [getattr(self, f.name) for f in fields(self)]


def _setstate(self: Any, state: list[Any]) -> None:
    put = object.__setattr__
    for f, value in zip(fields(self), state, strict=True):
        put(self, f.name, value)


def fields(record: object) -> tuple[Field, ...]:
    """The fields of a frozen record or record class, in order (dataclasses.fields() for these classes)."""
    found: tuple[Field, ...] | None = getattr(record, "__frozen_fields__", None)
    if found is None:
        raise TypeError("fields() takes a frozen record or record class")
    return found


def replace(record: T, /, **changes: Any) -> T:
    """A copy of a frozen record with some fields changed (dataclasses.replace())."""
    for f in fields(record):
        if f.name not in changes:
            changes[f.name] = getattr(record, f.name)
    return type(record)(**changes)


def is_record(value: object) -> bool:
    """A frozen record or record class, or any dataclass (dataclasses.is_dataclass(), without importing it)."""
    cls = value if isinstance(value, type) else type(value)
    if getattr(cls, "__frozen_fields__", None) is not None:
        return True
    stdlib = sys.modules.get("dataclasses")  # no dataclass exists before its module is loaded
    return stdlib is not None and stdlib.is_dataclass(cls)


def record_fields(cls: type) -> tuple[Any, ...]:
    """fields() of a frozen record class, else dataclasses.fields() of a dataclass: both with name, type, metadata."""
    found: tuple[Field, ...] | None = getattr(cls, "__frozen_fields__", None)
    if found is not None:
        return found
    import dataclasses

    return dataclasses.fields(cls)


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
    from dataclasses import FrozenInstanceError  # an error path: the module loads only when a record is assigned to

    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _delattr(self: Any, name: str) -> None:
    from dataclasses import FrozenInstanceError

    raise FrozenInstanceError(f"cannot delete field {name!r}")
