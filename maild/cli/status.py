"""`maild status TICKET`: the thread read info of one ticket, as a table or as JSON (DESIGN.md)."""

from __future__ import annotations

import sys

from maild import config, departments, queries
from maild.cli.common import add_config_option, load_settings, print_json
from maild.cli.visible import raw_stdout, visible
from maild.core.jsonvalue import to_json
from maild.core.record import Event
from maild.status import ThreadInfo
from maild.store import open_for_command, transaction
from maild.core.sqldb import Db

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)

if TYPE_CHECKING:
    import argparse

    from rich.console import Console


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "status",
        help="show whether each reply of a ticket was delivered and read, per recipient",
        description="Thread read info of one ticket: every reply with its recipients, their state, delivered "
        "and read times and failures. Read information is hidden for departments with receipts off.",
        epilog="Example: maild status 1234 --json --config /etc/maild/maild.toml",
    )
    p.add_argument("ticket", metavar="TICKET", help="the ticket id")
    p.add_argument("--json", action="store_true", help="print the JSON document described in DESIGN.md")
    add_config_option(p)
    p.set_defaults(func=run)


def open_read_side(settings: config.Settings) -> Db:
    """A command's connection, with the stored receipts default brought in line with the configuration."""
    db = open_for_command(
        settings.store.path,
        busy_timeout=settings.store.busy_timeout,
        receipts_default=settings.tracking.receipts_default,
    )
    machine = settings.pixel.count_machine_opens
    try:
        if departments.stored_pixel_counting(db) != machine:
            transaction(db, lambda d: departments.sync_pixel_counting(d, machine))
    except BaseException:  # closed here as open_for_command closes it: the caller's `finally` never got the handle
        db.conn.close()
        raise
    return db


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    db = open_read_side(settings)
    try:
        info = queries.load_thread(db, args.ticket)
    finally:
        db.conn.close()
    if info is None:
        if args.json:
            print_json({"ticket": args.ticket, "error": "unknown ticket"})
        else:
            print(f"maild: unknown ticket {args.ticket}", file=sys.stderr)
        return 1
    if args.json:
        print_json(to_json(info))
    else:
        render(info, console())
    return 0


def console() -> Console:
    """Colour only on a terminal; a fixed width otherwise so output is stable in pipes and tests."""
    from rich.console import Console  # tables only: --json never loads rich

    tty = sys.stdout.isatty()
    # markup off: a subject like "[link=...]" is text, not a rich tag; cells are made visible below
    return Console(file=raw_stdout(), width=None if tty else 120, no_color=not tty, highlight=False, emoji=False, markup=False)


def _time(text: str | None) -> str:
    """ISO 8601 UTC shortened for a table: 2026-03-01 09:30 (UTC)."""
    return "" if text is None else text[:16].replace("T", " ")


def _failure(e: Event | None) -> str:
    if e is None:
        return ""
    f = e.record
    kind = "" if f.hard is None else (" hard" if f.hard else " soft")
    words = " ".join(w for w in (f.status, f.reason) if w)
    text = f"{words}{kind}".strip()
    return f"{text}: {f.diagnostic}" if f.diagnostic else text


def render(info: ThreadInfo, out: Console) -> None:
    from rich import box
    from rich.table import Table

    receipts = "on" if info.receipts_enabled else "off (read information hidden)"
    out.print(visible(f"Ticket {info.ticket}  department: {info.department or '-'}  read receipts: {receipts}", one_line=True))
    for reply in info.replies:
        label = "  BOUNCED" if reply.bounce_label else ""
        out.print()
        out.print(visible(f"Reply {reply.message_id or '-'}  {reply.subject or ''}", one_line=True))
        out.print(f"queued {_time(reply.queued_at)}  state: {reply.state}{label}")
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        for column in ("recipient", "kind", "state", "delivered", "read", "failure"):
            table.add_column(column, overflow="fold")
        for r in reply.recipients:
            cells = (r.address, r.kind, r.state, _time(r.delivered_at), _time(r.read_at), _failure(r.failure))
            table.add_row(*(visible(str(c), one_line=True) for c in cells))
        out.print(table)
        for r in reply.recipients:  # why each recipient is (or is not) read: MDN, reply, pixel
            for ev in r.evidence:
                out.print(f"  {r.address}: {ev.text}", markup=False)
        for a in reply.third_party:
            out.print(f"  answered by a third party: {a.author or '-'} {_time(a.at)} (read for no one)", markup=False)
