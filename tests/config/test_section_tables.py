"""The settings tables behave as frozen dataclasses although their methods are shared, not generated per class."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from maild import config
from maild.config import ReceiptSource, StoreSettings, TrackingSettings


def test_tables_are_dataclasses_with_every_declared_field() -> None:
    assert [f.name for f in dataclasses.fields(StoreSettings)] == ["path", "busy_timeout"]
    assert dataclasses.is_dataclass(TrackingSettings)


def test_keyword_and_positional_construction_as_a_dataclass_would() -> None:
    assert StoreSettings(Path("a.db"), 2.0) == StoreSettings(path=Path("a.db"), busy_timeout=2.0)
    assert StoreSettings().path is None  # the field default; load() fills in the declared TOML default
    with pytest.raises(TypeError, match="unexpected keyword argument 'nope'"):
        StoreSettings(nope=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="multiple values for argument 'path'"):
        StoreSettings(Path("a.db"), path=Path("b.db"))  # type: ignore[misc]
    with pytest.raises(TypeError, match="positional arguments"):
        StoreSettings(Path("a.db"), 1.0, 2)  # type: ignore[call-arg]


def test_frozen_equal_hashable_and_replaceable(tmp_path: Path) -> None:
    (tmp_path / "maild.toml").write_text('[store]\npath = "x.db"\n')
    one, two = config.load(tmp_path / "maild.toml"), config.load(tmp_path / "maild.toml")
    assert one == two and one.store == two.store and hash(one.store) == hash(two.store)
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.store.path = Path("y.db")  # type: ignore[misc]
    changed = dataclasses.replace(one.store, busy_timeout=1.0)
    assert changed != one.store and changed.path == one.store.path and changed.busy_timeout == 1.0
    assert one.store != ("x.db", 5.0)  # another type is never equal
    assert repr(changed) == f"StoreSettings(path={one.store.path!r}, busy_timeout=1.0)"
    assert ReceiptSource(url=None).url is None
