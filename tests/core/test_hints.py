"""maild.core.hints' stand-ins behave as typing's names do for the code that uses them at run time."""

from __future__ import annotations

import typing

import pytest

from maild.core import hints


def protocols(kit: typing.Any) -> tuple[type, type, type]:
    """A plain protocol, a runtime-checkable one and a runtime-checkable one that extends it, made with `kit`'s names."""

    class Reads(kit.Protocol):
        def read(self) -> int: ...

    @kit.runtime_checkable
    class Writes(kit.Protocol):
        def write(self, job: object) -> None: ...

    @kit.runtime_checkable
    class Both(Reads, Writes, kit.Protocol):
        pass

    return Reads, Writes, Both


class OnlyWrites:
    def write(self, job: object) -> None: ...


class ReadsAndWrites(OnlyWrites):
    def read(self) -> int:
        return 1


@pytest.mark.parametrize("instance", [OnlyWrites(), ReadsAndWrites(), object(), "text", None], ids=repr)
def test_runtime_checkable_protocols_answer_isinstance_as_typing_does(instance: object) -> None:
    _, writes, both = protocols(typing)
    _, our_writes, our_both = protocols(hints)
    assert isinstance(instance, our_writes) is isinstance(instance, writes)
    assert isinstance(instance, our_both) is isinstance(instance, both)


def test_a_class_that_names_its_protocol_is_an_instance_of_it() -> None:
    reads, writes, _ = protocols(hints)

    class Store(reads):  # type: ignore[misc, valid-type]
        def read(self) -> int:
            return 2

    assert isinstance(Store(), reads)
    assert Store().read() == 2


@pytest.mark.parametrize("instance", [OnlyWrites(), ReadsAndWrites(), object()], ids=lambda i: type(i).__name__)
def test_a_class_that_names_a_runtime_checkable_protocol_is_checked_by_class_as_typing_does(instance: object) -> None:
    def implementation(kit: typing.Any) -> type:
        _, writes, _ = protocols(kit)

        class Store(writes):  # type: ignore[misc, valid-type]
            def write(self, job: object) -> None: ...

        return Store

    assert isinstance(instance, implementation(hints)) is isinstance(instance, implementation(typing)) is False


def test_runtime_checkable_refuses_a_class_that_implements_a_protocol_as_typing_does() -> None:
    for kit in (typing, hints):
        _, writes, _ = protocols(kit)

        class Store(writes):  # type: ignore[misc, valid-type]
            def write(self, job: object) -> None: ...

        with pytest.raises(TypeError):
            kit.runtime_checkable(Store)


def test_a_protocol_not_marked_runtime_checkable_is_checked_by_class_alone() -> None:
    reads, _, _ = protocols(hints)
    assert not isinstance(ReadsAndWrites(), reads)  # typing's raises TypeError here; ours does not pretend


def test_runtime_checkable_refuses_a_plain_class_as_typing_does() -> None:
    with pytest.raises(TypeError):
        typing.runtime_checkable(OnlyWrites)
    with pytest.raises(TypeError):
        hints.runtime_checkable(OnlyWrites)


def test_generic_subscription_is_the_class_itself() -> None:
    t = hints.TypeVar("T")

    class Column(hints.Generic[t]):  # type: ignore[misc]
        def __init__(self, value: int) -> None:
            self.value = value

    assert Column[int] is Column
    assert Column(3).value == 3
    assert hints.Protocol[t] is hints.Protocol  # type: ignore[misc]


def test_the_small_names() -> None:
    value = object()
    assert hints.cast(int, value) is value is typing.cast(int, value)
    assert hints.TypeVar("T", bound=int) == "T"

    @hints.dataclass_transform(frozen_default=True)
    def decorate(cls: type) -> type:
        return cls

    assert decorate(int) is int
