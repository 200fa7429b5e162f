"""`maild events`: the event log, filtered by ticket or recipient, from a cursor or a time, optionally followed."""

from __future__ import annotations

import sys
import time

from maild import clock, queries
from maild.cli.common import add_config_option, load_settings, print_json
from maild.cli.visible import visible
from maild.cli.status import open_read_side
from maild.core.jsonvalue import to_json
from maild.core.record import Event
from maild.errors import MaildError

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)

if TYPE_CHECKING:
    import argparse

PAGE = 1000


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "events",
        help="list recorded events (delivery, DSN, MDN...) in order",
        description="Print events in the order maild recorded them; each has an id usable as a cursor "
        "(--since ID). Read events of departments with receipts off are left out.",
        epilog="Example: maild events --ticket 1234 --since 2026-03-01T00:00:00Z --json",
    )
    p.add_argument("--ticket", metavar="T", help="only events of this ticket")
    p.add_argument("--recipient", metavar="ADDR", help="only events of this recipient address")
    p.add_argument(
        "--since", metavar="CURSOR|TIME", help="events after this event id, or recorded at or after this ISO 8601 time"
    )
    p.add_argument("--follow", action="store_true", help="keep printing new events as they are recorded")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--poll", type=float, default=1.0, metavar="SECONDS", help="poll interval with --follow (default 1)")
    add_config_option(p)
    p.set_defaults(func=run)


def parse_since(text: str | None) -> tuple[int, str | None]:
    """(after id, recorded-at lower bound) from --since: a number is a cursor, anything else an ISO time."""
    if text is None:
        return 0, None
    if text.strip().isdigit():
        return int(text), None
    try:
        return 0, clock.iso(clock.parse_iso(text.strip()))
    except ValueError:
        raise MaildError(f"--since: expected an event id or an ISO 8601 time, got {text!r}") from None


def line(e: Event) -> str:
    r = e.record
    detail = " ".join(w for w in (r.status, r.reason, r.diagnostic) if w)
    ticket, recipient = (e.place.ticket, e.place.recipient) if e.place else (None, "")
    return f"{e.id}\t{e.at}\t{ticket or '-'}\t{recipient}\t{e.kind}\t{e.source}\t{detail}".rstrip()


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    after, since = parse_since(args.since)
    db = open_read_side(settings)
    try:
        while True:
            page = queries.list_events(
                db,
                after=after,
                limit=PAGE,
                ticket=args.ticket,
                recipient=args.recipient,
                since=since,
            )
            for e in page.events:
                if args.json:
                    print_json(to_json(e))
                else:
                    print(visible(line(e), one_line=True))
            after = page.next
            if page.more:
                continue
            if not args.follow:
                return 0
            sys.stdout.flush()
            time.sleep(args.poll)  # a command's own poll loop, not synchronisation
    finally:
        db.conn.close()
