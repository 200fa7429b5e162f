"""Settings: every option with its default and help text, read once from TOML into frozen objects.

The table below is the one place a setting is declared. `load()` validates a
file against it and returns a `Settings`; errors name the file, the key path
and what was expected. Nothing else in maild reads TOML or holds global
configuration: the `Settings` object is passed down.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from maild.core.events import EventKind
from maild.core.paths import resolve_path
from maild.core.urls import SourceUrl, UpstreamUrl, parse_source_url, parse_upstream_url
from maild.errors import ConfigError

DEFAULT_CONFIG = Path("maild.toml")

# ---------------------------------------------------------------- converters
# Each converter takes (raw TOML value, config folder) and returns the typed
# value or raises ValueError("expected ...").

Converter = Callable[[Any, Path], Any]


def _str(value: Any, _base: Path) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a string")
    return value


def _bool(value: Any, _base: Path) -> bool:
    if not isinstance(value, bool):
        raise ValueError("expected true or false")
    return value


def _int(minimum: int = 0, maximum: int | None = None) -> Converter:
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


def _quantity(units: Mapping[str, int], what: str) -> Converter:
    def convert(value: Any, _base: Path) -> float:
        if isinstance(value, bool):
            raise ValueError(f"expected {what}")
        if isinstance(value, (int, float)):
            if value < 0:
                raise ValueError(f"expected a non-negative {what}")
            return float(value)
        if isinstance(value, str):
            m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", value)
            if m and m.group(2).lower() in units:
                return float(m.group(1)) * units[m.group(2).lower()]
        raise ValueError(f"expected {what} such as {', '.join(_examples(units))}")

    return convert


def _examples(units: Mapping[str, int]) -> list[str]:
    return ['"35MB"', "36700160"] if "mb" in units else ['"5m"', '"1h"', '"5d"', "300"]


_size = _quantity(_SIZE_UNITS, "a size")
_duration = _quantity(_DURATION_UNITS, "a duration")


def _path(value: Any, base: Path) -> Path:
    text = _str(value, base)
    if not text:
        raise ValueError("expected a non-empty path")
    return resolve_path(text, base)


def _optional_path(value: Any, base: Path) -> Path | None:
    if value == "":
        return None
    return _path(value, base)


def _hostport(value: Any, _base: Path) -> tuple[str, int]:
    text = _str(value, _base)
    m = re.fullmatch(r"\[([0-9a-fA-F:.]+)\]:(\d+)|([^:\[\]]+):(\d+)", text)
    if not m:
        raise ValueError('expected "HOST:PORT" or "[IPV6]:PORT"')
    host = m.group(1) or m.group(3)
    port = int(m.group(2) or m.group(4))
    if not 0 <= port <= 65535:
        raise ValueError("expected a port between 0 and 65535")
    return host, port


def _list_of(item: Converter) -> Converter:
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


def _network(value: Any, base: Path) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(_str(value, base), strict=False)
    except ValueError:
        raise ValueError('expected a network in CIDR form such as "127.0.0.0/8"') from None


def _regex(value: Any, base: Path) -> re.Pattern[str]:
    try:
        pattern = re.compile(_str(value, base))
    except re.error as exc:
        raise ValueError(f"expected a regular expression ({exc})") from None
    if pattern.groups < 1:
        raise ValueError("expected a regular expression with one capturing group for the ticket id")
    return pattern


def _choice(*choices: str) -> Converter:
    def convert(value: Any, base: Path) -> str:
        text = _str(value, base)
        if text not in choices:
            raise ValueError(f"expected one of {', '.join(repr(c) for c in choices)}")
        return text

    return convert


def _address(value: Any, base: Path) -> str:
    text = _str(value, base)
    if not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+\.?[^@\s<>]*", text):
        raise ValueError('expected an address like "receipts@helpdesk.example.com"')
    return text


def _upstream(value: Any, base: Path) -> UpstreamUrl:
    return parse_upstream_url(_str(value, base), base)


def _string_map(value: Any, base: Path) -> Mapping[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ValueError("expected a table of strings")
    return {str(k).lower(): v for k, v in value.items()}


def _bool_map(value: Any, base: Path) -> Mapping[str, bool]:
    if not isinstance(value, dict) or not all(isinstance(v, bool) for v in value.values()):
        raise ValueError("expected a table of true/false values")
    return dict(value)


def setting(default: Any, help: str, convert: Converter, *, secret: bool = False) -> Any:
    """Declare one setting: its default (as written in TOML), help text and converter."""
    return field(default=None, metadata={"default": default, "help": help, "convert": convert, "secret": secret})


# ------------------------------------------------------------------ sections


@dataclass(frozen=True)
class StoreSettings:
    path: Path = setting("var/maild.db", "SQLite database file (WAL mode; created with its folder).", _path)
    busy_timeout: float = setting("5s", "How long a reader or writer waits for a lock before giving up.", _duration)


@dataclass(frozen=True)
class IntakeSettings:
    listen: tuple[tuple[str, int], ...] = setting(
        ["127.0.0.1:10025"], "SMTP listeners for the helpdesk's outgoing mail (HOST:PORT list).", _list_of(_hostport)
    )
    tls_listen: tuple[tuple[str, int], ...] = setting(
        [], "SMTP listeners with implicit TLS (SMTPS); needs tls_cert_file.", _list_of(_hostport)
    )
    allowed_networks: tuple[Any, ...] = setting(
        ["127.0.0.0/8", "::1/128"], "Clients from these networks may relay without authentication.", _list_of(_network)
    )
    users_file: Path | None = setting(
        "", "File of 'user:scrypt-hash' lines for SMTP AUTH (see `maild hash-password`); empty: no AUTH.", _optional_path
    )
    tls_cert_file: Path | None = setting("", "PEM certificate for STARTTLS and implicit TLS.", _optional_path)
    tls_key_file: Path | None = setting("", "PEM private key for tls_cert_file.", _optional_path, secret=True)
    hostname: str = setting("", "Name in the SMTP greeting; empty: the machine's name.", _str)
    max_message_size: float = setting("35MB", "Largest message accepted (SIZE); larger ones get 552.", _size)
    max_recipients: int = setting(1000, "Most recipients per message; more get 452.", _int(1))
    data_timeout: float = setting("5m", "Idle time after which an SMTP session is closed.", _duration)


@dataclass(frozen=True)
class DeliverySettings:
    upstream: UpstreamUrl = setting(
        "maildir:var/outbox",
        "Where copies go: smtp://HOST:PORT, smtp+starttls://, smtps://, lmtp://, maildir:PATH.",
        _upstream,
    )
    username: str = setting("", "User name for AUTH to the upstream; empty: no AUTH.", _str)
    password_file: Path | None = setting("", "File holding the upstream AUTH password.", _optional_path, secret=True)
    tls_ca_file: Path | None = setting(
        "", "CA bundle to verify the upstream's certificate; empty: the system CAs.", _optional_path
    )
    helo_name: str = setting("", "Name given in EHLO to the upstream; empty: the machine's name.", _str)
    concurrency: int = setting(20, "Most copies in flight to the upstream at once.", _int(1, 1000))
    connect_timeout: float = setting("30s", "Timeout to connect to the upstream.", _duration)
    command_timeout: float = setting("5m", "Timeout for each SMTP command to the upstream.", _duration)
    first_retry: float = setting("5m", "Delay before the first retry of a deferred copy.", _duration)
    max_retry: float = setting("1h", "Retry delays double up to this.", _duration)
    lifetime: float = setting("5d", "A copy not delivered after this long fails with reason 'expired'.", _duration)
    request_dsn: bool = setting(True, "Ask the upstream for DSNs when it offers the DSN extension.", _bool)
    dsn_notify: str = setting("SUCCESS,FAILURE,DELAY", "NOTIFY= value of each RCPT when DSNs are requested.", _str)
    dsn_ret: str = setting("HDRS", "RET= value of MAIL FROM when DSNs are requested.", _choice("HDRS", "FULL"))
    poll_interval: float = setting("1s", "How often the scheduler looks for copies that came due.", _duration)
    connection_idle_timeout: float = setting(
        "10s", "An idle upstream connection kept for reuse is closed after this.", _duration
    )
    connection_max_messages: int = setting(1000, "Copies sent over one upstream connection before it is renewed.", _int(1))
    batch_size: int = setting(500, "Most due recipients picked from the spool per read.", _int(1, 100000))


@dataclass(frozen=True)
class TrackingSettings:
    return_path: str = setting(
        "receipts@helpdesk.example.com", "Receipts address; the token goes after the delimiter.", _address
    )
    delimiter: str = setting("+", "Separator between the local part and the token (one character).", _str)
    key_file: Path = setting(
        "var/token.key", "Token signing keys, one 'KEYID:HEXSECRET' per line, the first signs; created 0600 when missing.", _path
    )
    ticket_header: str = setting("X-Ticket-ID", "Header carrying the ticket id.", _str)
    department_header: str = setting("X-Department", "Header carrying the department name.", _str)
    subject_pattern: re.Pattern[str] = setting(
        r"\[#(\d+)\]", "Regular expression finding the ticket id in the subject when no header has it.", _regex
    )
    sender_departments: Mapping[str, str] = setting(
        {}, "Table of sender address = department, used when no header names one.", _string_map
    )
    strip_headers: tuple[str, ...] = setting(
        [], "Further internal headers removed before relaying (the ticket and department headers always are).", _list_of(_str)
    )
    track_without_ticket: bool = setting(
        False, "Track mail that names no ticket too (otherwise it is relayed as is, one copy).", _bool
    )
    receipts_default: bool = setting(True, "Read receipts for departments with no explicit setting.", _bool)


def _source_url(value: Any, base: Path) -> SourceUrl:
    return parse_source_url(_str(value, base), base)


@dataclass(frozen=True)
class ReceiptSource:
    url: SourceUrl = setting(
        "maildir:var/receipts",
        "Where receipts arrive: maildir:PATH, imap://USER@HOST:PORT/FOLDER, imaps://..., lmtp://HOST:PORT (listener).",
        _source_url,
    )
    password_file: Path | None = setting("", "File holding the IMAP password.", _optional_path, secret=True)
    starttls: bool = setting(False, "Require STARTTLS on imap:// (never falls back to plain text).", _bool)
    tls_ca_file: Path | None = setting("", "CA bundle for the IMAP server's certificate.", _optional_path)
    processed_folder: str = setting("processed", "Folder receipts move to once their events are committed.", _str)
    quarantine_folder: str = setting("quarantine", "Folder for what cannot be parsed, correlated or verified.", _str)
    poll_interval: float = setting("60s", "Polling interval when the server has no IDLE (and Maildir scans).", _duration)
    idle_renew: float = setting("25m", "IDLE is re-issued after this (RFC 2177 asks for under 29 minutes).", _duration)
    batch_size: int = setting(200, "Most messages fetched per IMAP FETCH.", _int(1, 1000))
    command_timeout: float = setting("60s", "Hard timeout around every IMAP command.", _duration)
    idle_keepalive: float = setting(
        "5m",
        "While idling, leave IDLE and check the IMAP connection this often, so a silently dead one is replaced "
        "within this plus command_timeout; 0: only at idle_renew.",
        _duration,
    )
    quarantine_max_bytes: float = setting(
        "10MB",
        "Most raw bytes kept per quarantined receipt; a bigger one is kept cut (truncated = true) and still listed.",
        _size,
    )


@dataclass(frozen=True)
class HttpSettings:
    listen: str = setting("127.0.0.1:8025", "HTTP API and /metrics listener (HOST:PORT); empty: off.", _str)
    token_file: Path = setting(
        "var/api.token", "Bearer token for /v1/ (created 0600 with a random token when missing).", _path, secret=False
    )


@dataclass(frozen=True)
class LogSettings:
    level: str = setting("info", "Lowest level logged.", _choice("debug", "info", "warning", "error"))
    format: str = setting(
        "auto", "json (one object per line), console (readable) or auto (console on a terminal).", _choice("auto", "json", "console")
    )


@dataclass(frozen=True)
class ServiceSettings:
    stop_timeout: float = setting(
        "30s",
        "On SIGTERM: how long SMTP sessions in a transaction and copies in flight may take to finish before maild exits.",
        _duration,
    )


def _http_url(value: Any, base: Path) -> str:
    text = _str(value, base)
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", text):
        raise ValueError('expected an http:// or https:// URL such as "https://helpdesk.example.com/maild-hook"')
    return text


def _duration_map(value: Any, base: Path) -> Mapping[str, float]:
    if not isinstance(value, dict):
        raise ValueError('expected a table of event kind = duration, such as { displayed = "180d" }')

    out = {}
    for k, v in value.items():
        if k not in set(EventKind):
            raise ValueError(f"{k}: expected an event kind ({', '.join(EventKind)})")
        try:
            out[str(k)] = _duration(v, base)
        except ValueError as exc:
            raise ValueError(f"{k}: {exc}") from None
    return out


@dataclass(frozen=True)
class WebhookSettings:
    urls: tuple[str, ...] = setting([], "URLs every new event and reply state change is POSTed to as JSON.", _list_of(_http_url))
    secret_file: Path = setting(
        "var/webhook.secret", "HMAC-SHA256 key signing each POST (created 0600 with a random key when missing).", _path
    )
    timeout: float = setting("10s", "Timeout of one POST; a receiver slower than this is retried.", _duration)
    first_retry: float = setting("5s", "Delay before the first retry after a failed POST.", _duration)
    max_retry: float = setting("10m", "Retry delays double up to this; events wait in order, none is dropped.", _duration)
    poll_interval: float = setting("1s", "How often the dispatcher looks for new events.", _duration)
    batch_size: int = setting(100, "Most events read per look.", _int(1, 10000))


@dataclass(frozen=True)
class RetentionSettings:
    events: float = setting("0", "Delete events older than this (by their time); 0 keeps them for ever.", _duration)
    kinds: Mapping[str, float] = setting(
        {}, 'Per event kind overrides of `events`, e.g. { displayed = "180d", queued = "30d" }; 0 keeps for ever.',
        _duration_map,
    )
    interval: float = setting("1h", "How often the daemon enforces the retention.", _duration)


@dataclass(frozen=True)
class Settings:
    source: Path
    store: StoreSettings
    intake: IntakeSettings
    delivery: DeliverySettings
    tracking: TrackingSettings
    receipts: tuple[ReceiptSource, ...]
    http: HttpSettings
    log: LogSettings
    webhooks: WebhookSettings
    retention: RetentionSettings
    service: ServiceSettings

    @property
    def base_dir(self) -> Path:
        return self.source.parent


SECTIONS: dict[str, type] = {
    "store": StoreSettings,
    "intake": IntakeSettings,
    "delivery": DeliverySettings,
    "tracking": TrackingSettings,
    "http": HttpSettings,
    "log": LogSettings,
    "webhooks": WebhookSettings,
    "retention": RetentionSettings,
    "service": ServiceSettings,
}
LIST_SECTIONS: dict[str, type] = {"receipts": ReceiptSource}
DEFAULT_RECEIPTS: list[dict[str, Any]] = [{"url": "maildir:var/receipts"}]


def _build(cls: type, table: Any, key_path: str, base: Path, source: Path) -> Any:
    if not isinstance(table, dict):
        raise ConfigError(source, key_path, "expected a table")
    known = {f.name: f for f in dataclasses.fields(cls)}
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
    sections = {name: _build(cls, document.get(name, {}), name, base, source) for name, cls in SECTIONS.items()}
    raw_receipts = document.get("receipts", DEFAULT_RECEIPTS)
    if not isinstance(raw_receipts, list):
        raise ConfigError(source, "receipts", "expected an array of tables ([[receipts]])")
    receipts = tuple(
        _build(ReceiptSource, t, f"receipts[{i}]", base, source) for i, t in enumerate(raw_receipts)
    )
    settings = Settings(source=source.resolve(), receipts=receipts, **sections)
    _check_consistency(settings)
    return settings


def _check_consistency(s: Settings) -> None:
    """Rules that span several settings."""
    if len(s.tracking.delimiter) != 1 or s.tracking.delimiter.isalnum():
        raise ConfigError(s.source, "tracking.delimiter", "expected one non-alphanumeric character such as '+'")
    if "@" in s.tracking.return_path.split("@")[0] or s.tracking.delimiter in s.tracking.return_path.split("@")[0]:
        raise ConfigError(s.source, "tracking.return_path", "expected a local part without the delimiter")
    if (s.intake.tls_listen or s.intake.users_file) and not s.intake.tls_cert_file:
        raise ConfigError(
            s.source, "intake.tls_cert_file", "expected a certificate: AUTH and implicit TLS need TLS"
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
    if s.http.listen:
        try:
            _hostport(s.http.listen, s.base_dir)
        except ValueError as exc:
            raise ConfigError(s.source, "http.listen", str(exc)) from None


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
        raw = path.read_bytes()
    except FileNotFoundError:
        if path == DEFAULT_CONFIG:
            return parse({}, path)
        raise ConfigError(path, "", "file not found") from None
    except OSError as exc:
        raise ConfigError(path, "", f"cannot read: {exc.strerror}") from None
    try:
        document = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(path, "", "expected UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "", f"invalid TOML: {exc}") from None
    return parse(document, path)


def describe() -> list[tuple[str, Any, str]]:
    """Every setting as (key path, default, help), for documentation and `check-config`."""
    rows = []
    for section, cls in {**SECTIONS, **LIST_SECTIONS}.items():
        for f in dataclasses.fields(cls):
            name = f"{section}.{f.name}" if section not in LIST_SECTIONS else f"{section}[].{f.name}"
            rows.append((name, f.metadata["default"], f.metadata["help"]))
    return rows


def effective(settings: Settings) -> dict[str, Any]:
    """The settings as plain TOML-like values with secret paths kept but secrets never read."""

    def plain(obj: Any) -> Any:
        out = {}
        for f in dataclasses.fields(obj):
            v = getattr(obj, f.name)
            out[f.name] = _plain_value(v)
        return out

    result: dict[str, Any] = {name: plain(getattr(settings, name)) for name in SECTIONS}
    result["receipts"] = [plain(r) for r in settings.receipts]  # URLs print without their passwords
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
