"""`maild purge --older-than AGE`: delete old events by hand, keeping anonymous counts."""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path

from maild import clock, config, logs, retention
from maild.core.jsonvalue import encoder
from maild.cli.common import add_config_option, load_settings, print_json
from maild.core.events import EventKind
from maild.errors import MaildError
from maild.store import open_for_command, transaction

log = logs.get("retention")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "purge",
        help="delete events older than an age (anonymous counts are kept)",
        description="Delete events whose time is older than AGE, of every kind or of the kinds given. "
        "The number of deleted events per day and kind is kept in erased_counts.",
        epilog="Example: maild purge --older-than 180d --kind displayed --kind deleted",
    )
    p.add_argument("--older-than", required=True, metavar="AGE", help='an age such as "180d", "12h", "2w"')
    p.add_argument("--kind", action="append", choices=[str(k) for k in EventKind], help="only this event kind")
    p.add_argument("--json", action="store_true", help="print the counts as JSON")
    add_config_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    try:
        age = config.parse_duration(args.older_than, Path("."))
    except ValueError as exc:
        raise MaildError(f"--older-than: {exc}") from None
    before = clock.iso(clock.now() - timedelta(seconds=age))
    limits = {k: before for k in (args.kind or [str(k) for k in EventKind])}
    db = open_for_command(settings.store.path, busy_timeout=settings.store.busy_timeout)
    try:
        result = retention.purge(lambda job: transaction(db, job), limits, cause="purge")
    finally:
        db.conn.close()
    log.info("events_purged", deleted=result.deleted, by_kind=dict(result.by_kind), before=before)
    if args.json:
        print_json({"before": before, **encoder(retention.PurgeResult)(result)})
    else:
        print(f"deleted {result.deleted} events recorded before {before}")
        for kind, n in result.by_kind.items():
            print(f"  {kind}: {n}")
    return 0
