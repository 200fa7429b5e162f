"""The `maild` command line: a thin layer that parses arguments and calls one library function per command.

Each command lives in its own module with `register(subparsers)`; the module
adds its parser with an example in the help and `set_defaults(func=...)`,
where func takes the parsed arguments and returns the exit status.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Sequence

from maild import __version__, logs
from maild.cli import checkconfig, departments, events, forget, ingest, keys, parse, purge, quarantine, queue, run, status
from maild.errors import ConfigError, MaildError

COMMANDS = [run, checkconfig, keys, queue, parse, ingest, quarantine, status, events, departments, purge, forget]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="maild",
        description="Track delivery and read receipts of helpdesk mail, per reply and per recipient.",
        epilog="Example: maild run --config /etc/maild/maild.toml",
    )
    parser.add_argument("--version", action="version", version=f"maild {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logs.configure("warning", getattr(args, "log_format", None) or "auto")
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"maild: configuration error: {exc}", file=sys.stderr)
        return 2
    except MaildError as exc:
        print(f"maild: error: {exc}", file=sys.stderr)
        return 1
    except sqlite3.Error as exc:  # a read on a broken or locked database: say so, no traceback
        print(f"maild: database error: {exc}", file=sys.stderr)
        return 75 if "locked" in str(exc) or "busy" in str(exc) else 1
    except BrokenPipeError:
        # `maild ... | head`: the reader left; stop quietly like other Unix tools.
        sys.stderr.close()
        return 141
    except OSError as exc:
        print(f"maild: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
