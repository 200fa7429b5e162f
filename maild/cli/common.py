"""Options and helpers shared by the command modules."""

from __future__ import annotations

import sys

from maild import config, logs

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)
if TYPE_CHECKING:
    from typing import Any

if TYPE_CHECKING:
    import argparse


def add_config_option(parser: argparse.ArgumentParser) -> None:
    """Every command takes --config PATH (default ./maild.toml)."""
    parser.add_argument(
        "--config", default=str(config.DEFAULT_CONFIG), metavar="PATH", help="configuration file (default: ./maild.toml)"
    )
    parser.add_argument("--log-format", choices=["auto", "json", "console"], default=None, help="override log.format")


def add_config_option_after(*actions: argparse.ArgumentParser) -> None:
    """--config and --log-format after an action too (`maild users list --config F`); SUPPRESS keeps a value
    given before the action when it is not repeated after it."""
    import argparse

    for sp in actions:
        sp.add_argument("--config", default=argparse.SUPPRESS, metavar="PATH", help="configuration file")
        sp.add_argument("--log-format", choices=["auto", "json", "console"], default=argparse.SUPPRESS)


def load_settings(args: argparse.Namespace, *, log_level: str | None = None) -> config.Settings:
    """Load --config and set up logging from it (the command line's --log-format wins)."""
    settings = config.load(args.config)
    logs.configure(log_level or settings.log.level, args.log_format or settings.log.format)
    return settings


def print_json(obj: Any) -> None:
    from maild.cli.visible import json_line

    sys.stdout.write(json_line(obj) + "\n")
