"""Declaring settings: `setting()` (default, help, converter in one place) and the converters from TOML values.

Each converter takes (raw TOML value, config folder) and returns the typed value
or raises ValueError("expected ..."); the loader turns that into a ConfigError
naming the key path.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from maild.core.events import EventKind
from maild.core.frozen import field, frozen
from maild.core.lazyre import lazy
from maild.core.paths import resolve_path
from maild.core.syntax import ADDRESS
from maild.core.urls import SourceUrl, UpstreamUrl, parse_source_url, parse_upstream_url

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)
if TYPE_CHECKING:
    from typing import Any, TypeAlias, TypeVar, dataclass_transform
else:
    from maild.core.hints import TypeVar, dataclass_transform

Converter: TypeAlias = "Callable[[Any, Path], Any]"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
T = TypeVar("T")


def setting(default: Any, help: str, convert: Converter, *, secret: bool = False) -> Any:
    """Declare one setting: its default (as written in TOML), help text and converter."""
    return field(default=None, metadata={"default": default, "help": help, "convert": convert, "secret": secret})


@dataclass_transform(frozen_default=True)
def section(cls: type[T]) -> type[T]:
    """A settings table: a frozen dataclass whose methods are shared, not generated (maild.core.frozen).

    dataclass() writes and compiles __init__, __repr__, __eq__, __hash__ and the frozen __setattr__ and
    __delattr__ for every class; for fifteen tables of up to thirty settings that was a third of a short
    command's start-up (every command loads them all to validate its file), and the two frozen ones alone
    were still half of importing maild.config.
    """
    cls.__doc__ = cls.__doc__ or f"The [{cls.__name__}] settings table."
    return frozen(cls)


def string(value: Any, _base: Path) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a string")
    return value


def boolean(value: Any, _base: Path) -> bool:
    if not isinstance(value, bool):
        raise ValueError("expected true or false")
    return value


def integer(minimum: int = 0, maximum: int | None = None) -> Converter:
    def convert(value: Any, _base: Path) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("expected an integer")
        if value < minimum or (maximum is not None and value > maximum):
            hi = "" if maximum is None else f" and at most {maximum}"
            raise ValueError(f"expected an integer of at least {minimum}{hi}")
        return value

    return convert


_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024**2, "mb": 1024**2, "g": 1024**3, "gb": 1024**3}
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_QUANTITY = lazy(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*")


def _quantity(units: Mapping[str, int], what: str, examples: str) -> Callable[[Any, Path], float]:
    def convert(value: Any, _base: Path) -> float:
        if isinstance(value, bool):
            raise ValueError(f"expected {what}")
        if isinstance(value, (int, float)):
            if value < 0:
                raise ValueError(f"expected a non-negative {what}")
            return float(value)
        if isinstance(value, str):
            m = _QUANTITY.fullmatch(value)
            if m and m.group(2).lower() in units:
                return float(m.group(1)) * units[m.group(2).lower()]
        raise ValueError(f"expected {what} such as {examples}")

    return convert


size = _quantity(_SIZE_UNITS, "a size", '"35MB", 36700160')
duration = _quantity(_DURATION_UNITS, "a duration", '"5m", "1h", "5d", 300')


def path(value: Any, base: Path) -> Path:
    text = string(value, base)
    if not text:
        raise ValueError("expected a non-empty path")
    return resolve_path(text, base)


def optional_path(value: Any, base: Path) -> Path | None:
    if value == "":
        return None
    return path(value, base)


_HOSTPORT = lazy(r"\[([0-9a-fA-F:.]+)\]:(\d+)|([^:\[\]]+):(\d+)")


def hostport(value: Any, _base: Path) -> tuple[str, int]:
    text = string(value, _base)
    m = _HOSTPORT.fullmatch(text)
    if not m:
        raise ValueError('expected "HOST:PORT" or "[IPV6]:PORT"')
    host = m.group(1) or m.group(3)
    port = int(m.group(2) or m.group(4))
    if not 0 <= port <= 65535:
        raise ValueError("expected a port between 0 and 65535")
    return host, port


def list_of(item: Converter) -> Converter:
    def convert(value: Any, base: Path) -> tuple[Any, ...]:
        if not isinstance(value, list):
            raise ValueError("expected a list")
        out = []
        for i, v in enumerate(value):
            try:
                out.append(item(v, base))
            except ValueError as exc:
                raise ValueError(f"item {i}: {exc}") from None
        return tuple(out)

    return convert


def network(value: Any, base: Path) -> Network:
    try:
        return ipaddress.ip_network(string(value, base), strict=False)
    except ValueError:
        raise ValueError('expected a network in CIDR form such as "127.0.0.0/8"') from None


def regex(value: Any, base: Path) -> re.Pattern[str]:
    try:
        pattern = re.compile(string(value, base))
    except re.error as exc:
        raise ValueError(f"expected a regular expression ({exc})") from None
    if pattern.groups < 1:
        raise ValueError("expected a regular expression with one capturing group for the ticket id")
    return pattern


def choice(*choices: str) -> Converter:
    def convert(value: Any, base: Path) -> str:
        text = string(value, base)
        if text not in choices:
            raise ValueError(f"expected one of {', '.join(repr(c) for c in choices)}")
        return text

    return convert


def address(value: Any, base: Path) -> str:
    text = string(value, base)
    if not ADDRESS.fullmatch(text):
        raise ValueError('expected an address like "receipts@helpdesk.example.com"')
    return text


def upstream_url(value: Any, base: Path) -> UpstreamUrl:
    return parse_upstream_url(string(value, base), base)


def source_url(value: Any, base: Path) -> SourceUrl:
    return parse_source_url(string(value, base), base)


_HTTP_URL = lazy(r"https?://[^\s/]+(/\S*)?")


def http_url(value: Any, base: Path) -> str:
    text = string(value, base)
    if not _HTTP_URL.fullmatch(text):
        raise ValueError('expected an http:// or https:// URL such as "https://helpdesk.example.com/maild-hook"')
    return text


def preset_tables(value: Any, _base: Path) -> Mapping[str, Any]:
    """[tracking.presets.NAME] tables, validated into maild.presets.model.Preset values."""
    if isinstance(value, dict) and not value:
        return {}  # none (the default): what loader.presets({}) gives, without importing the presets package
    from maild.presets import loader  # local: the presets package stays out of config's import time

    return loader.presets(value)


def string_map(value: Any, _base: Path) -> Mapping[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ValueError("expected a table of strings")
    return {str(k).lower(): v for k, v in value.items()}


def duration_map(value: Any, base: Path) -> Mapping[str, float]:
    if not isinstance(value, dict):
        raise ValueError('expected a table of event kind = duration, such as { displayed = "180d" }')
    out = {}
    for k, v in value.items():
        if k not in set(EventKind):
            raise ValueError(f"{k}: expected an event kind ({', '.join(EventKind)})")
        try:
            out[str(k)] = duration(v, base)
        except ValueError as exc:
            raise ValueError(f"{k}: {exc}") from None
    return out
