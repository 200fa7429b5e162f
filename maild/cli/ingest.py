"""`maild ingest [FILE|-]`: ingest one receipt from a file or stdin, for an MTA's pipe transport (sendmail exit codes)."""

from __future__ import annotations

import os
import sqlite3
import sys

from maild import clock, tokens
from maild.cli.common import add_config_option, load_settings, print_json
from maild.core.events import Via
from maild.errors import (
    ConfigError,
    KeyFileError,
    MaildError,
    StoreBusy,
    TransientError,
)
from maild.receipts.ingest import hints_from, ingest_now, policy_from
from maild.receipts.parsestream import OneShotParser
from maild.store import open_for_command

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)

if TYPE_CHECKING:
    import argparse

EX_OK = 0
EX_NOINPUT = 66  # the named file cannot be read
EX_TEMPFAIL = 75  # nothing recorded: the MTA keeps the message and retries


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "ingest",
        help="ingest one receipt (DSN, MDN, bounce...) from a file or stdin",
        description="Parse one message, record its events (or quarantine it) and exit 0 once that is committed; "
        "exit 75 (EX_TEMPFAIL) when nothing could be recorded, e.g. a locked database, so the MTA retries. "
        "For a Postfix pipe(8) transport: flags=Rq user=maild argv=/usr/bin/maild ingest --config /etc/maild/maild.toml",
        epilog="Example: maild ingest --config /etc/maild/maild.toml - < bounce.eml",
    )
    add_config_option(p)
    p.add_argument("file", nargs="?", default="-", metavar="FILE|-", help="the message (default: stdin)")
    p.add_argument("--json", action="store_true", help="print the outcome as JSON")
    p.add_argument(
        "--source",
        default="pipe",
        choices=[v.value for v in Via],
        help="how the message reached maild, recorded as the events' via (default: pipe)",
    )
    p.set_defaults(func=run_ingest)


def run_ingest(args: argparse.Namespace) -> int:
    try:
        raw = sys.stdin.buffer.read() if args.file == "-" else open(args.file, "rb").read()  # noqa: SIM115
    except OSError as exc:
        print(f"maild ingest: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return EX_NOINPUT
    try:
        settings = load_settings(args, log_level="warning")
        keys = tokens.load_keys(settings.tracking.key_file)
        db = open_for_command(settings.store.path, busy_timeout=settings.store.busy_timeout)
        try:
            ref = args.file if args.file != "-" else f"stdin:{os.getpid()}"
            outcome = ingest_now(
                db, raw, keys, hints_from(settings.tracking), args.source, ref, clock.now(),
                policy=policy_from(settings.tracking),
                parser=OneShotParser(),  # one parse: a forked child, not parsework's pool and its multiprocessing
            )
        finally:
            db.conn.close()
    except (ConfigError, KeyFileError, StoreBusy, TransientError, MaildError, sqlite3.Error) as exc:
        # Nothing was recorded; a temporary failure keeps the message at the MTA rather than bouncing it.
        print(f"maild ingest: not recorded, try again later: {exc}", file=sys.stderr)
        return EX_TEMPFAIL
    if args.json:
        print_json(
            {
                "applied": outcome.applied,
                "duplicates": outcome.duplicates,
                "quarantine": str(outcome.quarantine) if outcome.quarantine else None,
                "quarantine_id": outcome.quarantine_id,
                "kind": outcome.kind,
                "fingerprint": outcome.fingerprint,
            }
        )
    return EX_OK
