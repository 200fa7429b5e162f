"""`maild forget ADDRESS`: erase a recipient's address and events (GDPR), keeping anonymous counts."""

from __future__ import annotations

import argparse

from maild import logs, retention
from maild.cli.common import add_config_option, load_settings, print_json
from maild.core.jsonvalue import to_json
from maild.store import open_for_command, transaction

log = logs.get("retention")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "forget",
        help="erase an address and its events (GDPR), keeping anonymous counts",
        description="Erase every event of the recipients with this address (matched case-insensitively), "
        "replace the address and its mentions in stored headers, and keep only counts per day and kind.",
        epilog="Example: maild forget jane@example.net --json",
    )
    p.add_argument("address", metavar="ADDRESS", help="the recipient's e-mail address")
    p.add_argument("--json", action="store_true", help="print the counts as JSON")
    add_config_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    db = open_for_command(settings.store.path, busy_timeout=settings.store.busy_timeout)
    try:
        result = transaction(db, lambda d: retention.forget(d, args.address))
    finally:
        db.conn.close()
    # The address itself is not logged: the point is to forget it.
    log.info("address_forgotten", recipients=result.recipients, events=result.events,
             messages_scrubbed=result.messages_scrubbed, quarantine_erased=result.quarantine_erased)
    if args.json:
        print_json(to_json(result))
    else:
        print(f"erased {result.recipients} recipients, {result.events} events, "
              f"scrubbed {result.messages_scrubbed} stored messages, deleted {result.quarantine_erased} quarantined receipts")
    return 0 if result.recipients else 1
