"""Loading: read maild.toml once, convert every table through its declared settings, check the rules spanning several."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path

from maild.config.declare import hostport
from maild.config.document import document
from maild.config.sections import (
    DEFAULT_RECEIPTS,
    LIST_SECTIONS,
    SECTIONS,
    InboundSource,
    ReceiptSource,
    Settings,
    WritebackTarget,
)
from maild.core.frozen import fields
from maild.core.urls import Scheme
from maild.errors import ConfigError

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)
if TYPE_CHECKING:
    from typing import Any, TypeVar
else:
    from maild.core.hints import TypeVar

DEFAULT_CONFIG = Path("maild.toml")

T = TypeVar("T")


def _build(cls: type[T], table: Any, key_path: str, base: Path, source: Path) -> T:
    if not isinstance(table, dict):
        raise ConfigError(source, key_path, "expected a table")
    known = {f.name: f for f in fields(cls)}  # every section is a frozen record
    for key in table:
        if key not in known:
            raise ConfigError(source, f"{key_path}.{key}", f"unknown setting (known: {', '.join(sorted(known))})")
    values = {}
    for name, f in known.items():
        raw = table.get(name, f.metadata["default"])
        try:
            values[name] = f.metadata["convert"](raw, base)
        except ValueError as exc:
            raise ConfigError(source, f"{key_path}.{name}", str(exc)) from None
    return cls(**values)


def parse(document: Mapping[str, Any], source: Path) -> Settings:
    """Validate a parsed TOML document; `source` names the file in errors and anchors relative paths."""
    base = source.resolve().parent
    for key in document:
        if key not in SECTIONS and key not in LIST_SECTIONS:
            known = ", ".join(sorted([*SECTIONS, *LIST_SECTIONS]))
            raise ConfigError(source, key, f"unknown section (known: {known})")
    sections: dict[str, Any] = {name: _build(cls, document.get(name, {}), name, base, source) for name, cls in SECTIONS.items()}
    raw_receipts = document.get("receipts", DEFAULT_RECEIPTS)
    if not isinstance(raw_receipts, list):
        raise ConfigError(source, "receipts", "expected an array of tables ([[receipts]])")
    receipts = tuple(
        _build(ReceiptSource, t, f"receipts[{i}]", base, source) for i, t in enumerate(raw_receipts)
    )
    raw_inbound = document.get("inbound", [])
    if not isinstance(raw_inbound, list):
        raise ConfigError(source, "inbound", "expected an array of tables ([[inbound]])")
    inbound = tuple(_build(InboundSource, t, f"inbound[{i}]", base, source) for i, t in enumerate(raw_inbound))
    raw_writeback = document.get("writeback", [])
    if not isinstance(raw_writeback, list):
        raise ConfigError(source, "writeback", "expected an array of tables ([[writeback]])")
    writeback = tuple(_build(WritebackTarget, t, f"writeback[{i}]", base, source) for i, t in enumerate(raw_writeback))
    settings = Settings(source=source.resolve(), receipts=receipts, inbound=inbound, writeback=writeback, **sections)
    _check_consistency(settings)
    return settings


def _check_consistency(s: Settings) -> None:
    """Rules that span several settings."""
    if len(s.tracking.delimiter) != 1 or s.tracking.delimiter.isalnum():
        raise ConfigError(s.source, "tracking.delimiter", "expected one non-alphanumeric character such as '+'")
    if "@" in s.tracking.return_path.split("@")[0] or s.tracking.delimiter in s.tracking.return_path.split("@")[0]:
        raise ConfigError(s.source, "tracking.return_path", "expected a local part without the delimiter")
    public_listen = [h for h, _ in s.intake.listen if not is_loopback(h)]
    if (s.intake.tls_listen or (s.intake.users_file and public_listen)) and not s.intake.tls_cert_file:
        # AUTH without TLS is offered only to allowed networks; off loopback the passwords need TLS
        raise ConfigError(
            s.source, "intake.tls_cert_file", "expected a certificate: implicit TLS, and AUTH off loopback, need TLS"
        )
    if s.intake.tls_cert_file and not s.intake.tls_key_file:
        raise ConfigError(s.source, "intake.tls_key_file", "expected the key of intake.tls_cert_file")
    public = [
        f"{h}:{p}" for h, p in (*s.intake.listen, *s.intake.tls_listen) if not is_loopback(h)
    ]
    if public and not s.intake.allowed_networks and not s.intake.users_file:
        raise ConfigError(
            s.source,
            "intake.allowed_networks",
            f"listening on {', '.join(public)} with neither allowed_networks nor users_file would make an open relay",
        )
    for i, src in enumerate(s.inbound):
        if src.url.scheme is Scheme.LMTP and src.next_hop is None:
            raise ConfigError(s.source, f"inbound[{i}].next_hop", "expected the next hop (lmtp://HOST:PORT) of this LMTP hop")
        if src.next_hop is not None and src.url.scheme is not Scheme.LMTP:
            raise ConfigError(s.source, f"inbound[{i}].next_hop", "only an lmtp:// inbound source has a next hop")
    wide = [str(n) for n in s.intake.allowed_networks if n.prefixlen < 8]
    if wide and not s.intake.allow_open_relay:
        raise ConfigError(
            s.source,
            "intake.allowed_networks",
            f"{', '.join(wide)} lets most of the Internet relay through maild (an open relay); name the helpdesk's "
            "own networks, or set intake.allow_open_relay = true if you really mean it",
        )
    _check_writeback(s)
    from maild.presets import builtin  # local: see declare.presets; names only, no patterns compiled

    try:
        builtin.check_name(s.tracking.preset, s.tracking.presets)
    except ValueError as exc:
        raise ConfigError(s.source, "tracking.preset", str(exc)) from None
    if s.http.listen:
        try:
            hostport(s.http.listen, s.base_dir)
        except ValueError as exc:
            raise ConfigError(s.source, "http.listen", str(exc)) from None


_MODES = {"rt": ("field",), "zammad": ("note", "tag", "note+tag"), "freescout": ("indicator", "note"), "glpi": ("followup",)}


def _check_writeback(s: Settings) -> None:
    labels: set[str] = set()
    for i, w in enumerate(s.writeback):
        key = f"writeback[{i}]"
        if not w.url.startswith(("http://", "https://")) or len(w.url) < 10:
            raise ConfigError(s.source, f"{key}.url", "expected the helpdesk's http:// or https:// base URL")
        mode = w.mode or _MODES[w.kind][0]
        if mode not in _MODES[w.kind]:
            raise ConfigError(s.source, f"{key}.mode", f"expected one of {', '.join(_MODES[w.kind])} for kind {w.kind}")
        if w.token_file is None and not (w.kind == "freescout" and mode == "indicator"):
            raise ConfigError(s.source, f"{key}.token_file", f"expected the file of the {w.kind} API token")
        if w.kind == "glpi" and w.app_token_file is None:
            raise ConfigError(s.source, f"{key}.app_token_file", "expected the file of GLPI's App-Token")
        if w.kind == "freescout" and mode == "note" and not w.user_id:
            raise ConfigError(s.source, f"{key}.user_id", "expected the FreeScout user the note is written as")
        if w.label in labels:
            raise ConfigError(s.source, f"{key}.name", f"expected a name other targets do not have ({w.label!r} twice)")
        labels.add(w.label)


def is_loopback(host: str) -> bool:
    """A host name or address that never leaves this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load(path: Path | str = DEFAULT_CONFIG) -> Settings:
    """Read and validate a configuration file. A missing default file means all defaults."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            raw = f.read()
    except FileNotFoundError:
        if path == DEFAULT_CONFIG:
            return parse({}, path)
        raise ConfigError(path, "", "file not found") from None
    except OSError as exc:
        raise ConfigError(path, "", f"cannot read: {exc.strerror}") from None
    return parse(document(path, raw, st), path)
