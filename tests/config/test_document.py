"""The parsed maild.toml kept beside it: used only for the same bytes, never trusted from someone else, never needed."""

from __future__ import annotations

import json
import marshal
import os
import subprocess
import sys
from pathlib import Path

import pytest

from maild import config
from maild.config import document
from maild.errors import ConfigError

TOML = '[store]\npath = "one.db"\n\n[tracking]\nreturn_path = "bounces@helpdesk.example.com"\n'

PROBE = """
import json, sys
from maild import config
settings = config.load(sys.argv[1])
json.dump({"store": str(settings.store.path), "return_path": settings.tracking.return_path,
           "tomllib": "tomllib" in sys.modules}, sys.stdout)
"""


def load_in_a_fresh_process(path: Path) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True, check=True).stdout
    found: dict[str, object] = json.loads(out)
    return found


def test_a_second_load_of_the_same_file_needs_no_tomllib(tmp_path: Path) -> None:
    path = tmp_path / "maild.toml"
    path.write_text(TOML)
    first = load_in_a_fresh_process(path)
    assert first == {"store": str(tmp_path / "one.db"), "return_path": "bounces@helpdesk.example.com", "tomllib": True}
    assert Path(document.cache_path(str(path))).is_file()
    assert load_in_a_fresh_process(path) == {**first, "tomllib": False}


def test_an_edited_file_is_read_again_even_with_the_same_size_and_time(tmp_path: Path) -> None:
    path = tmp_path / "maild.toml"
    path.write_text(TOML)
    config.load(path)
    before = path.stat()
    path.write_text(TOML.replace("one.db", "two.db"))  # same length
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size
    assert config.load(path).store.path == tmp_path / "two.db"
    assert load_in_a_fresh_process(path)["store"] == str(tmp_path / "two.db")


def test_a_file_made_invalid_after_it_was_cached_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "maild.toml"
    path.write_text(TOML)
    config.load(path)
    path.write_text(TOML + "[store\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        config.load(path)
    path.write_bytes(TOML.encode() + b"\xff")
    with pytest.raises(ConfigError, match="expected UTF-8 text"):
        config.load(path)


def test_a_cached_document_is_still_validated(tmp_path: Path) -> None:
    path = tmp_path / "maild.toml"
    path.write_text('[store]\nbusy_timeout = "soon"\n')
    for _ in range(2):  # the second load reads the cache; the setting is refused all the same
        with pytest.raises(ConfigError, match="busy_timeout"):
            config.load(path)
    assert Path(document.cache_path(str(path))).is_file()


def forge(path: Path, raw: bytes, doc: dict[str, object]) -> Path:
    cache = Path(document.cache_path(str(path)))
    cache.parent.mkdir(exist_ok=True)
    cache.write_bytes(marshal.dumps((document.FORMAT, raw, doc)))
    return cache


def test_a_cache_others_may_write_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "maild.toml"
    path.write_text(TOML)
    cache = forge(path, path.read_bytes(), {"store": {"path": "forged.db"}})
    cache.chmod(0o666)
    assert config.load(path).store.path == tmp_path / "one.db"


def test_a_cache_for_other_bytes_or_broken_is_not_used(tmp_path: Path) -> None:
    path = tmp_path / "maild.toml"
    path.write_text(TOML)
    cache = forge(path, b"something else", {"store": {"path": "forged.db"}})
    cache.chmod(0o600)
    assert config.load(path).store.path == tmp_path / "one.db"
    for garbage in (b"", b"\x00garbage", marshal.dumps([1, 2]), marshal.dumps((document.FORMAT + 1, path.read_bytes(), {}))):
        cache.write_bytes(garbage)
        assert config.load(path).store.path == tmp_path / "one.db"


def test_no_cache_where_none_can_be_written_and_none_for_dates(tmp_path: Path) -> None:
    path = tmp_path / "maild.toml"
    path.write_text(TOML)
    (tmp_path / "__pycache__").write_text("a file where the cache folder would be")
    assert config.load(path).store.path == tmp_path / "one.db"
    assert config.load(path).store.path == tmp_path / "one.db"
    dated = tmp_path / "dated" / "maild.toml"
    dated.parent.mkdir()
    dated.write_text("when = 2026-12-02T03:00:00Z\n")
    assert str(document.document(dated, dated.read_bytes())["when"]) == "2026-12-02 03:00:00+00:00"
    assert not (dated.parent / "__pycache__").exists()


def test_the_cache_is_as_readable_as_the_file_and_no_more(tmp_path: Path) -> None:
    path = tmp_path / "maild.toml"
    path.write_text(TOML)
    path.chmod(0o640)
    config.load(path)
    assert Path(document.cache_path(str(path))).stat().st_mode & 0o777 == 0o640 & ~_umask()
    other = tmp_path / "open.toml"
    other.write_text(TOML)
    other.chmod(0o666)
    config.load(other)
    assert Path(document.cache_path(str(other))).stat().st_mode & 0o022 == 0


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
