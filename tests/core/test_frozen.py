"""core.frozen behaves like dataclass(frozen=True): each behaviour compared with a generated twin of the same fields."""

from __future__ import annotations

import copy
import dataclasses
import functools
import pickle
from dataclasses import dataclass, field
from types import MemberDescriptorType

import pytest

from maild.core.frozen import frozen


@frozen
class Shared:
    """A record with a required field, a default and a default factory."""

    name: str
    size: int = 3
    tags: tuple[str, ...] = field(default_factory=tuple)
    note: str | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Generated:
    """The same fields with dataclass()'s generated methods."""

    name: str
    size: int = 3
    tags: tuple[str, ...] = field(default_factory=tuple)
    note: str | None = field(default=None, repr=False, compare=False)


def twins(*args: object, **kwargs: object) -> tuple[Shared, Generated]:
    return Shared(*args, **kwargs), Generated(*args, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [(("a",), {}), (("a", 5), {}), ((), {"name": "b", "tags": ("x",)}), (("c",), {"note": "n", "size": 0})],
)
def test_construction_repr_equality_and_hash_match_a_generated_dataclass(args: tuple[object, ...], kwargs: dict[str, object]) -> None:
    ours, theirs = twins(*args, **kwargs)
    assert [getattr(ours, f.name) for f in dataclasses.fields(ours)] == [getattr(theirs, f.name) for f in dataclasses.fields(theirs)]
    assert repr(ours) == repr(theirs).replace("Generated", "Shared")
    assert ours == Shared(*args, **kwargs) and hash(ours) == hash(Shared(*args, **kwargs))  # type: ignore[arg-type]
    assert hash(ours) == hash(theirs)  # the same tuple of compared fields


def test_compare_false_fields_are_left_out_of_equality_as_in_a_dataclass() -> None:
    assert Shared("a", note="x") == Shared("a", note="y")
    assert Generated("a", note="x") == Generated("a", note="y")
    assert Shared("a") != Shared("b") and Shared("a") != Generated("a")  # type: ignore[comparison-overlap]


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((), {}), (("a", 1, (), None, "extra"), {}), (("a",), {"name": "b"}), (("a",), {"colour": "red"})],
    ids=["missing", "too many", "twice", "unknown"],
)
def test_wrong_arguments_raise_type_error_like_a_dataclass(args: tuple[object, ...], kwargs: dict[str, object]) -> None:
    with pytest.raises(TypeError):
        Generated(*args, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Shared(*args, **kwargs)  # type: ignore[arg-type]


def test_assignment_and_deletion_are_refused() -> None:
    record = Shared("a")
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.name = "b"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del record.size
    assert record.name == "a" and record.size == 3


def test_replace_fields_and_pickle_work_as_on_a_dataclass() -> None:
    record = Shared("a", tags=("t",))
    assert dataclasses.is_dataclass(record)
    assert [f.name for f in dataclasses.fields(record)] == ["name", "size", "tags", "note"]
    assert dataclasses.replace(record, size=9) == Shared("a", 9, ("t",))
    assert pickle.loads(pickle.dumps(record)) == record
    assert dataclasses.asdict(record) == {"name": "a", "size": 3, "tags": ("t",), "note": None}


def test_default_factory_gives_each_record_its_own_value() -> None:
    @frozen
    class Holder:
        """Holds a list made per record."""

        items: list[int] = field(default_factory=list)

    one, two = Holder(), Holder()
    one.items.append(1)
    assert two.items == []


def test_a_field_left_out_of_the_constructor_is_refused_at_declaration() -> None:
    with pytest.raises(TypeError):
        @frozen
        class Odd:
            """init=False has no shared constructor."""

            computed: int = field(default=0, init=False)


def fresh_pair() -> tuple[type, type]:
    """A frozen class not yet constructed (its __init__ still the shared one) and its generated twin."""

    @frozen
    class Often:
        """Made many times: it gets a compiled __init__."""

        name: str
        size: int = 3
        tags: list[str] = field(default_factory=list)

    @dataclass(frozen=True)
    class Twin:
        """The same fields, generated."""

        name: str
        size: int = 3
        tags: list[str] = field(default_factory=list)

    return Often, Twin


CALLS = [(("a",), {}), (("a", 5), {}), ((), {"name": "b", "tags": ["x"]}), (("c",), {"size": 0}), (("d", 1, ["y"]), {})]
WRONG = [((), {}), (("a", 1, [], "extra"), {}), (("a",), {"name": "b"}), (("a",), {"colour": "red"})]


def test_a_class_made_often_gets_a_compiled_init_that_constructs_alike() -> None:
    from maild.core import frozen as module

    often, twin = fresh_pair()
    assert often.__init__ is module._init
    for n in range(module.COMPILE_ON_USE * 2):
        args, kwargs = CALLS[n % len(CALLS)]
        ours, theirs = often(*args, **kwargs), twin(*args, **kwargs)
        assert (ours.name, ours.size, ours.tags) == (theirs.name, theirs.size, theirs.tags)
        assert ours == often(*args, **kwargs) and repr(ours) == repr(theirs).replace("Twin", "Often")
    assert often.__init__ is not module._init  # compiled at the COMPILE_ON_USE-th construction
    assert often("a").tags is not often("a").tags  # the factory still runs per record
    for args, kwargs in WRONG:
        with pytest.raises(TypeError):
            often(*args, **kwargs)
    with pytest.raises(dataclasses.FrozenInstanceError):
        often("a").name = "b"  # type: ignore[attr-defined]
    assert dataclasses.replace(often("a", tags=["t"]), size=9) == often("a", 9, ["t"])
    assert hash(often("h", tags=())) == hash(often("h", tags=()))  # type: ignore[arg-type]


def test_a_required_field_after_a_default_keeps_the_shared_init() -> None:
    from maild.core import frozen as module

    @frozen
    class Late:
        """A required field after a defaulted one: no valid signature, so the shared constructor serves it."""

        size: int = 3
        name: str = field()  # type: ignore[misc]

    for _ in range(module.COMPILE_ON_USE * 2):
        assert Late(name="x").size == 3
    assert Late.__init__ is module._init
    with pytest.raises(TypeError):
        Late()


def test_a_class_keeps_its_own_repr_as_a_dataclass_does() -> None:
    @frozen
    class Secret:
        """Its repr must not show the key."""

        key: bytes

        def __repr__(self) -> str:
            return "Secret(***)"

    assert repr(Secret(b"k")) == "Secret(***)"
    assert Secret(b"k") == Secret(b"k") and Secret(b"k") != Secret(b"j")


def test_no_dataclass_is_made_until_one_is_asked_for() -> None:
    # A frozen record reads its fields itself; __dataclass_fields__ (with the stdlib's Field objects) is made by
    # dataclass() on its first read, with the same names, defaults, factories and metadata.
    from maild.core import frozen as module

    @frozen
    class Lazy:
        """Not yet a dataclass in its __dict__."""

        name: str
        tags: tuple[str, ...] = module.field(default_factory=tuple, metadata={"k": 1})
        size: int = 3

    assert not isinstance(Lazy.__dict__["__dataclass_fields__"], dict)
    assert [(f.name, f.default, f.default_factory, dict(f.metadata)) for f in module.fields(Lazy)] == [
        ("name", module.MISSING, module.MISSING, {}), ("tags", module.MISSING, tuple, {"k": 1}), ("size", 3, module.MISSING, {}),
    ]
    theirs = dataclasses.fields(Lazy)  # type: ignore[arg-type]
    assert isinstance(Lazy.__dict__["__dataclass_fields__"], dict)
    assert [(f.name, f.default, f.default_factory, dict(f.metadata)) for f in theirs] == [
        ("name", dataclasses.MISSING, dataclasses.MISSING, {}), ("tags", dataclasses.MISSING, tuple, {"k": 1}),
        ("size", 3, dataclasses.MISSING, {}),
    ]
    assert Lazy.__init__ is module._init and Lazy("a") == Lazy("a", (), 3)  # dataclass() generated no method
    assert module.replace(Lazy("a"), size=4) == dataclasses.replace(Lazy("a"), size=4) == Lazy("a", size=4)
    # As dataclass(slots=True) leaves the class: each field a slot, no default left as a class attribute.
    assert all(isinstance(Lazy.__dict__[n], MemberDescriptorType) for n in ("name", "tags", "size"))
    assert Lazy("a").size == 3 and not hasattr(Lazy("a"), "__dict__")


def test_a_subclass_adds_its_fields_after_its_bases() -> None:
    from maild.core import frozen as module

    @frozen
    class Base:
        """Two fields."""

        a: int
        b: int = 2

    @frozen
    class Child(Base):
        """One more, and b's default changed."""

        c: int = 3
        b: int = 5

    assert [f.name for f in module.fields(Child)] == [f.name for f in dataclasses.fields(Child)] == ["a", "b", "c"]  # type: ignore[arg-type]
    assert Child(1) == Child(1, 5, 3) and repr(Child(1)) == "test_a_subclass_adds_its_fields_after_its_bases.<locals>.Child(a=1, b=5, c=3)"


def test_the_compiled_init_fills_the_same_slots_as_a_slotted_dataclass() -> None:
    from maild.core import frozen as module

    often, _ = fresh_pair()

    @dataclass(frozen=True, slots=True)
    class SlottedTwin:
        """The same fields, generated with slots."""

        name: str
        size: int = 3
        tags: list[str] = field(default_factory=list)

    assert often.__slots__ == SlottedTwin.__slots__ == ("name", "size", "tags")  # type: ignore[attr-defined]
    for _ in range(module.COMPILE_ON_USE):
        often("warm")
    assert often.__init__ is not module._init
    for args, kwargs in CALLS:
        ours, theirs = often(*args, **kwargs), SlottedTwin(*args, **kwargs)  # type: ignore[arg-type]
        assert not hasattr(ours, "__dict__") and not hasattr(theirs, "__dict__")
        assert [getattr(ours, n) for n in often.__slots__] == [getattr(theirs, n) for n in SlottedTwin.__slots__]  # type: ignore[attr-defined]


def test_a_record_with_a_cached_property_keeps_its_instance_dict_filled_as_a_dataclass_fills_it() -> None:
    from maild.core import frozen as module

    @frozen
    class Cached:
        """A cached_property needs the instance's __dict__: no slots."""

        name: str
        size: int = 3
        tags: list[str] = field(default_factory=list)

        @functools.cached_property
        def label(self) -> str:
            return f"{self.name}:{self.size}"

    _, twin = fresh_pair()
    assert "__slots__" not in Cached.__dict__
    for _ in range(module.COMPILE_ON_USE):
        Cached("warm")
    assert Cached.__init__ is not module._init
    for args, kwargs in CALLS:
        ours, theirs = Cached(*args, **kwargs), twin(*args, **kwargs)  # type: ignore[arg-type]
        assert list(vars(ours).items()) == list(vars(theirs).items())  # the same items, in the same order
        assert ours.label == f"{ours.name}:{ours.size}"


@frozen
class Named:
    """A method with zero-argument super() names the class as made again with slots."""

    name: str
    tags: tuple[str, ...] = ()

    def __str__(self) -> str:
        return "named " + super().__str__()


@frozen
class Holder:
    """Holds another record (pickled by reference: at module level)."""

    inner: Named
    count: int = 0


def test_a_slotted_record_pickles_copies_and_calls_super_like_a_slotted_dataclass() -> None:
    from maild.core import frozen as module

    for n in range(module.COMPILE_ON_USE * 2):  # through the shared and the compiled __init__
        record = Holder(Named(f"n{n}", ("t",)), n)
        for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
            back = pickle.loads(pickle.dumps(record, protocol=protocol))
            assert back == record and type(back) is Holder and back.inner.tags == ("t",)
        assert copy.copy(record) == record and copy.deepcopy(record) == record
        assert copy.deepcopy(record).inner is not record.inner
    assert str(Named("x")).startswith("named ")
    with pytest.raises(dataclasses.FrozenInstanceError):
        copy.copy(Named("x")).name = "y"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        Named("x").other = 1  # type: ignore[attr-defined]


class _Upper:
    """A data descriptor: stores its value upper-cased under another name, as a property setter would."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = "_" + name

    def __get__(self, obj: object, owner: type | None = None) -> str:
        return str(getattr(obj, self.name, ""))

    def __set__(self, obj: object, value: str) -> None:
        object.__setattr__(obj, self.name, value.upper())


def test_a_field_behind_a_data_descriptor_is_still_set_through_it() -> None:
    from maild.core import frozen as module

    @frozen
    class Described:
        """A field whose class attribute is a data descriptor: assignment must go through its __set__."""

        label: _Upper = _Upper()  # type: ignore[assignment]

    @dataclass(frozen=True)
    class DescribedTwin:
        """The same, generated."""

        label: _Upper = _Upper()  # type: ignore[assignment]

    for n in range(module.COMPILE_ON_USE * 2):
        ours, theirs = Described(f"x{n}"), DescribedTwin(f"x{n}")  # type: ignore[arg-type]
        assert ours.label == theirs.label == f"X{n}"
    assert Described.__init__ is not module._init


def test_a_wide_record_made_as_its_twin_is_exactly_its_class_as_a_slotted_dataclass_is() -> None:
    from maild.core import frozen as module

    failing = [False]

    def tags() -> list[str]:
        if failing[0]:
            raise LookupError("factory")
        return []

    @frozen
    class Wide:
        """Enough fields to be made as its twin once compiled."""

        a: int
        b: str
        c: int = 3
        d: str | None = None
        e: list[str] = field(default_factory=tags)
        f: tuple[int, ...] = ()

    @dataclass(frozen=True, slots=True)
    class WideTwin:
        a: int
        b: str
        c: int = 3
        d: str | None = None
        e: list[str] = field(default_factory=list)
        f: tuple[int, ...] = ()

    class Sub(Wide):
        """Not decorated: it inherits Wide's compiled __init__."""

    assert len(module.fields(Wide)) >= module._TWIN_FIELDS
    calls = [((1, "x"), {}), ((2, "y", 5, "d", ["t"], (1,)), {}), ((3,), {"b": "z", "f": (2, 3)})]
    for n in range(module.COMPILE_ON_USE * 2):
        args, kwargs = calls[n % len(calls)]
        ours, theirs = Wide(*args, **kwargs), WideTwin(*args, **kwargs)  # type: ignore[arg-type]
        assert type(ours) is Wide and not hasattr(ours, "__dict__")
        assert [getattr(ours, s) for s in Wide.__slots__] == [getattr(theirs, s) for s in WideTwin.__slots__]  # type: ignore[attr-defined]
        assert ours == Wide(*args, **kwargs) and repr(ours) == repr(theirs).replace("WideTwin", "Wide")
        with pytest.raises(dataclasses.FrozenInstanceError):
            ours.a = 9  # type: ignore[misc]
        with pytest.raises(dataclasses.FrozenInstanceError):
            del ours.b  # type: ignore[misc]
    assert Wide.__init__ is not module._init and "_frozen_twin_" in Wide.__init__.__globals__
    sub = Sub(1, "s")
    assert type(sub) is Sub and sub == Sub(1, "s") and sub.e == [] and sub.e is not Sub(1, "s").e
    with pytest.raises(dataclasses.FrozenInstanceError):
        sub.a = 2  # type: ignore[misc]
    failing[0] = True
    with pytest.raises(LookupError):
        Wide(1, "x")
    with pytest.raises(TypeError):
        Wide(1, "x", 1, None, [], (), "extra")  # type: ignore[call-arg]
    failing[0] = False
    assert type(Wide(4, "w")) is Wide and Wide(4, "w").e == []


def test_a_wide_record_whose_subclasses_run_code_keeps_the_setters() -> None:
    from maild.core import frozen as module

    @frozen
    class Hooked:
        a: int
        b: int = 0
        c: int = 0
        d: int = 0
        e: int = 0

        def __init_subclass__(cls) -> None:
            raise AssertionError("a twin must not be made of this class")

    for n in range(module.COMPILE_ON_USE * 2):
        assert type(Hooked(n)) is Hooked and Hooked(n).a == n
    assert Hooked.__init__ is not module._init and "_frozen_twin_" not in Hooked.__init__.__globals__
