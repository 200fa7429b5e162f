"""`maild run`: the daemon in the foreground (systemd runs it as a notify service)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from maild.cli.common import add_config_option, load_settings
from maild.errors import KeyFileError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "run",
        help="run the daemon: SMTP intake, delivery, receipts ingest, HTTP API",
        description="Run maild in the foreground until SIGTERM or SIGINT.",
        epilog="Example: maild run --config /etc/maild/maild.toml",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from maild.daemon import (  # the daemon pulls in every part; other commands stay light
        loop_factory,
        serve,
    )

    settings = load_settings(args)
    try:
        with asyncio.Runner(loop_factory=loop_factory(settings.daemon.event_loop)) as runner:
            return runner.run(serve(settings, args.log_format))
    except KeyFileError as exc:
        print(f"maild: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        # A port in use or a folder we cannot write: say which, no traceback.
        print(f"maild: cannot start: {exc}", file=sys.stderr)
        return 1
