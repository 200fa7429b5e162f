"""Showing settings: every declared one with its default and help, and a loaded `Settings` as plain TOML-like values."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from pathlib import Path

from maild.config.sections import LIST_SECTIONS, SECTIONS, Settings
from maild.core.frozen import fields
from maild.core.urls import SourceUrl, UpstreamUrl

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)
if TYPE_CHECKING:
    from typing import Any


def describe() -> list[tuple[str, Any, str]]:
    """Every setting as (key path, default, help), for documentation and `check-config`."""
    rows = []
    for section, cls in {**SECTIONS, **LIST_SECTIONS}.items():
        for f in fields(cls):
            name = f"{section}.{f.name}" if section not in LIST_SECTIONS else f"{section}[].{f.name}"
            rows.append((name, f.metadata["default"], f.metadata["help"]))
    return rows


def effective(settings: Settings) -> dict[str, Any]:
    """The settings as plain TOML-like values with secret paths kept but secrets never read."""

    def plain(obj: Any) -> dict[str, Any]:
        return {f.name: _plain_value(getattr(obj, f.name)) for f in fields(obj)}

    result: dict[str, Any] = {name: plain(getattr(settings, name)) for name in SECTIONS}
    result["receipts"] = [plain(r) for r in settings.receipts]  # URLs print without their passwords
    result["inbound"] = [plain(r) for r in settings.inbound]
    result["tracking"]["presets"] = sorted(settings.tracking.presets)
    result["writeback"] = [plain(w) for w in settings.writeback]
    return result


def _plain_value(v: Any) -> Any:
    if isinstance(v, SourceUrl) and v.password is not None:
        return v.display().replace(f"://{v.user}@", f"://{v.user}:***@", 1)
    if isinstance(v, (UpstreamUrl, SourceUrl)):
        return str(v)
    if isinstance(v, Path):
        return str(v)
    if isinstance(v, re.Pattern):
        return v.pattern
    if isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], str) and isinstance(v[1], int):
        return f"[{v[0]}]:{v[1]}" if ":" in v[0] else f"{v[0]}:{v[1]}"
    if isinstance(v, tuple):
        return [_plain_value(x) for x in v]
    if isinstance(v, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        return str(v)
    if v is None:
        return ""
    if isinstance(v, Mapping):
        return {k: _plain_value(x) for k, x in v.items()}
    return v
