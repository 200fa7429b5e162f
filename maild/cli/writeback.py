"""`maild writeback list|retry`: the write-back outbox (what maild writes into the helpdesk), and running rows again."""

from __future__ import annotations

import argparse
import dataclasses
import sys

from maild import clock
from maild.cli.common import add_config_option, add_config_option_after, load_settings, print_json
from maild.store import open_for_command, transaction
from maild.writeback import outbox
from maild.core.sqldb import Db


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "writeback",
        help="list or retry write-back rows",
        description="Each [[writeback]] target gets one outbox row per recipient and state. `list` shows them with "
        "their status (pending, sending, done, refused, uncertain, suppressed) and last error; `retry ID|--all` "
        "makes refused, uncertain or waiting rows due now (the running daemon picks them up).",
        epilog="Example: maild writeback list --status refused --config /etc/maild/maild.toml; maild writeback retry --all",
    )
    add_config_option(p)
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = actions.add_parser("list", help="outbox rows", epilog="Example: maild writeback list --json")
    ls.add_argument("--status", choices=["pending", "sending", "done", "refused", "uncertain", "suppressed"])
    ls.add_argument("--json", action="store_true", help="one JSON object per line")
    ls.add_argument("--limit", type=int, default=1000)
    retry = actions.add_parser("retry", help="make rows due now", epilog="Example: maild writeback retry 12")
    retry.add_argument("ids", type=int, nargs="*", metavar="ID")
    retry.add_argument("--all", action="store_true", help="every row not done")
    add_config_option_after(ls, retry)
    p.set_defaults(func=run_writeback)


def run_writeback(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    db = open_for_command(settings.store.path, busy_timeout=settings.store.busy_timeout)
    try:
        if args.action == "list":
            rows = outbox.list_rows(db, status=args.status, limit=args.limit)
            for row in rows:
                if args.json:
                    print_json(dataclasses.asdict(row))
                else:
                    error = f"  {row.last_error}" if row.last_error else ""
                    print(f"{row.id}\t{row.target}\t{row.ticket}\t{row.address}\t{row.state}\t{row.status}"
                          f"\t{row.attempts}{error}")
            return 0
        if not args.ids and not args.all:
            print("maild writeback retry: give row ids or --all", file=sys.stderr)
            return 2
        now = clock.now()

        statuses = ("pending", "refused", "uncertain")

        def job(d: Db) -> int:
            if args.all:
                return outbox.retry(d, now, statuses=statuses)
            return sum(outbox.retry(d, now, int(oid), statuses=statuses) for oid in args.ids)

        n = transaction(db, job)
        print(f"{n} row(s) due now", file=sys.stderr)
        return 0 if n or args.all else 1
    finally:
        db.conn.close()
