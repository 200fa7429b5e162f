"""Settings: every option with its default and help text, read once from TOML into frozen objects.

`sections` is the one place a setting is declared (with `declare.setting` and
its converters); `load()` validates a file against it and returns a `Settings`;
errors name the file, the key path and what was expected; `describe` and
`effective` show the declarations and a loaded configuration. Nothing else in
maild reads TOML or holds global configuration: the `Settings` object is passed down.
"""

from __future__ import annotations

from maild.config.declare import duration as parse_duration
from maild.config.declare import hostport as parse_hostport
from maild.config.describe import describe, effective
from maild.config.load import DEFAULT_CONFIG, is_loopback, load, parse
from maild.config.sections import (
    LIST_SECTIONS,
    SECTIONS,
    DaemonSettings,
    DeliverySettings,
    HttpSettings,
    InboundSource,
    IntakeSettings,
    LogSettings,
    PixelSettings,
    ReceiptSource,
    RetentionSettings,
    ServiceSettings,
    Settings,
    StoreSettings,
    TrackingSettings,
    WebhookSettings,
    WebSettings,
    WritebackTarget,
)
from maild.errors import ConfigError

__all__ = [
    "DEFAULT_CONFIG",
    "LIST_SECTIONS",
    "SECTIONS",
    "ConfigError",
    "DaemonSettings",
    "DeliverySettings",
    "HttpSettings",
    "InboundSource",
    "IntakeSettings",
    "LogSettings",
    "PixelSettings",
    "ReceiptSource",
    "RetentionSettings",
    "ServiceSettings",
    "Settings",
    "StoreSettings",
    "TrackingSettings",
    "WebhookSettings",
    "WebSettings",
    "WritebackTarget",
    "describe",
    "effective",
    "is_loopback",
    "load",
    "parse",
    "parse_duration",
    "parse_hostport",
]
