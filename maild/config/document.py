"""maild.toml's bytes to its TOML document, kept parsed beside the file so that a command need not import tomllib.

tomllib compiles its regular expressions when it is imported, and with the string and typing machinery it loads
that was the largest part of loading the configuration for a short command (`maild ingest` runs once per receipt).
The first load of a file stores the document it parsed, with the file's bytes, in `__pycache__/NAME.marshal` beside
the file; a later load uses it only when the file's bytes now are those bytes, so an edited file is always parsed
(and refused, if it is wrong) again. marshal is built in and holds what TOML gives except dates and times: a file
with a date is parsed each time. A folder maild cannot write gets no cache, and a cache file not owned by this user
or the file's owner, or writable by others, is not read (the file's own permissions are the cache's).
"""

from __future__ import annotations

import marshal
import os

from maild.errors import ConfigError

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)
if TYPE_CHECKING:
    from typing import Any

if TYPE_CHECKING:
    from pathlib import Path

FORMAT = 1  # the cache's layout: (FORMAT, file bytes, document)


def cache_path(path: str) -> str:
    folder, name = os.path.split(os.path.abspath(path))
    return os.path.join(folder, "__pycache__", f"{name}.marshal")


def document(path: Path | str, raw: bytes, st: os.stat_result | None = None) -> dict[str, Any]:
    """The TOML document of the file at `path` whose bytes are `raw` (its stat `st`, when known); ConfigError if invalid."""
    where = os.fspath(path)
    found = _cached(where, raw, st)
    if found is not None:
        return found
    import tomllib  # only for a file not parsed before (or edited since)

    try:
        parsed = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(path, "", "expected UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "", f"invalid TOML: {exc}") from None
    _store(where, raw, parsed, st)
    return parsed


def _cached(path: str, raw: bytes, st: os.stat_result | None) -> dict[str, Any] | None:
    try:
        with open(cache_path(path), "rb") as f:
            mine = os.fstat(f.fileno())
            if mine.st_uid not in (os.geteuid(), st.st_uid if st else os.geteuid()) or mine.st_mode & 0o022:
                return None
            layout, key, found = marshal.loads(f.read())
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if layout != FORMAT or key != raw or not isinstance(found, dict):
        return None
    return found


def _store(path: str, raw: bytes, parsed: dict[str, Any], st: os.stat_result | None) -> None:
    try:
        data = marshal.dumps((FORMAT, raw, parsed))
    except ValueError:  # a TOML date or time: marshal cannot hold it
        return
    target = cache_path(path)
    temporary = f"{target}.{os.getpid()}.tmp"
    mode = (st.st_mode & 0o644) if st else 0o600  # readable by whoever may read the file, never more
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), "wb") as f:
            f.write(data)
        os.replace(temporary, target)
    except OSError:  # a folder this user cannot write (/etc/maild for the maild user): no cache, the same settings
        try:
            os.unlink(temporary)
        except OSError:
            pass
