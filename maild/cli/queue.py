"""`maild queue`: list, show, retry, hold, release and delete queued messages (like postqueue/mailq)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime

from maild import clock, queue
from maild.cli import common
from maild.core.jsonvalue import JSONValue, encoder
from maild.core.states import UNFINISHED_DELIVERY
from maild.store import open_for_command, transaction
from maild.core.sqldb import Db

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)
if TYPE_CHECKING:
    from typing import Any

if TYPE_CHECKING:
    import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "queue",
        help="inspect and act on the delivery queue",
        description="Inspect and act on messages waiting for delivery. IDs are the queue ids of `maild queue list`.",
        epilog="Example: maild queue list --config /etc/maild/maild.toml",
    )
    actions = parser.add_subparsers(dest="queue_command", metavar="ACTION", required=True)

    def action(name: str, help: str, example: str, func: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
        p = actions.add_parser(name, help=help, description=help[:1].upper() + help[1:] + ".", epilog=f"Example: {example}")
        common.add_config_option(p)
        p.add_argument("--json", action="store_true", help="print JSON instead of text")
        p.set_defaults(func=func)
        return p

    p = action("list", "list messages with recipients still to deliver", "maild queue list --json", _list)
    p.add_argument("--all", action="store_true", help="include messages whose recipients are all final")
    p = action("show", "show one message: envelope, headers and each recipient's state", "maild queue show 3F2A9C01B4D7", _show)
    p.add_argument("id", metavar="ID")
    p = action("retry", "make deferred recipients due now", "maild queue retry 3F2A9C01B4D7   or   maild queue retry --all", _retry)
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("id", metavar="ID", nargs="?")
    target.add_argument("--all", action="store_true", help="every message in the queue")
    p = action("hold", "stop delivery attempts for a message until released", "maild queue hold 3F2A9C01B4D7", _hold)
    p.add_argument("id", metavar="ID")
    p = action("release", "let a held message be delivered again", "maild queue release 3F2A9C01B4D7", _release)
    p.add_argument("id", metavar="ID")
    p = action(
        "delete", "give up a message: its recipients fail with 'deleted by admin'", "maild queue delete 3F2A9C01B4D7", _delete
    )
    p.add_argument("id", metavar="ID")


def _run(args: argparse.Namespace, job: Callable[[Db], Any]) -> Any:
    settings = common.load_settings(args, log_level="warning")
    db = open_for_command(settings.store.path, busy_timeout=settings.store.busy_timeout)
    try:
        return transaction(db, job)
    finally:
        db.conn.close()


def _guard(args: argparse.Namespace, action: Callable[[], int]) -> int:
    """Unknown ids: exit 1 with a clear message (a JSON object with --json)."""
    try:
        return action()
    except queue.UnknownMessage as exc:
        if args.json:
            common.print_json({"id": exc.queue_id, "error": "unknown queue id"})
        print(f"maild: {exc}", file=sys.stderr)
        return 1


def _entry_json(entry: queue.QueueEntry, now: datetime) -> dict[str, JSONValue]:
    """The entry as the one encoder writes it, with its age at `now` (not a field: it changes as you look)."""
    return {**encoder(queue.QueueEntry)(entry), "age_seconds": entry.age_seconds(now)}


def _age(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s"


def _list(args: argparse.Namespace) -> int:
    entries = _run(args, lambda db: queue.list_entries(db, include_finished=args.all))
    now = clock.now()
    if args.json:
        common.print_json([_entry_json(e, now) for e in entries])
        return 0
    if not entries:
        print("Mail queue is empty")
        return 0
    print(f"{'ID':<14} {'AGE':>7} {'SIZE':>8}  SENDER")
    for e in entries:
        flag = "!" if e.held else " "
        print(f"{e.queue_id:<13}{flag} {_age(e.age_seconds(now)):>7} {e.size:>8}  {e.sender}")
        for r in e.recipients:
            detail = f"  ({r.last_reply.splitlines()[0][:70]})" if r.last_reply and r.state != "accepted" else ""
            print(f"{'':>33}{r.address}  {r.state}{detail}")
    pending = sum(1 for e in entries for r in e.recipients if r.state in UNFINISHED_DELIVERY)
    print(f"-- {len(entries)} messages, {pending} recipients to deliver ('!' = held)")
    return 0


def _show(args: argparse.Namespace) -> int:
    def action() -> int:
        entry, headers = _run(args, lambda db: queue.show(db, args.id))
        now = clock.now()
        if args.json:
            common.print_json({**_entry_json(entry, now), "headers": headers.decode("utf-8", "replace")})
            return 0
        for label, value in [
            ("Queue ID", entry.queue_id), ("Message-ID", entry.message_id), ("Ticket", entry.ticket),
            ("Department", entry.department), ("Sender", entry.sender), ("Subject", entry.subject),
            ("Size", entry.size), ("Received", entry.received_at), ("Age", _age(entry.age_seconds(now))),
            ("Held", "yes" if entry.held else "no"), ("Tracked", "yes" if entry.tracked else "no"),
            ("Finished", entry.finished_at or "-"),
        ]:
            print(f"{label + ':':<12} {value if value is not None else '-'}")
        print("Recipients:")
        for r in entry.recipients:
            print(f"  {r.address} ({r.kind}): {r.state}, {r.attempts} attempts, next {r.next_attempt_at or '-'}")
            if r.last_reply:
                print(f"    last reply: {r.last_reply.splitlines()[0]}")
        print("Headers:")
        sys.stdout.write(headers.decode("utf-8", "replace"))
        return 0

    return _guard(args, action)


def _retry(args: argparse.Namespace) -> int:
    def action() -> int:
        count = _run(args, lambda db: queue.retry(db, None if args.all else args.id, clock.now()))
        if args.json:
            common.print_json({"id": None if args.all else args.id, "rescheduled": count})
        else:
            print(f"{count} recipients due now (the daemon picks them up within delivery.poll_interval)")
        return 0

    return _guard(args, action)


def _set_held(args: argparse.Namespace, held: bool) -> int:
    def action() -> int:
        changed = _run(args, lambda db: queue.set_held(db, args.id, held))
        word = "held" if held else "released"
        if args.json:
            common.print_json({"id": queue.normalise(args.id), "held": held, "changed": changed})
        else:
            print(f"{queue.normalise(args.id)}: {word}" + ("" if changed else f" (was already {word})"))
        return 0

    return _guard(args, action)


def _hold(args: argparse.Namespace) -> int:
    return _set_held(args, True)


def _release(args: argparse.Namespace) -> int:
    return _set_held(args, False)


def _delete(args: argparse.Namespace) -> int:
    def action() -> int:
        count = _run(args, lambda db: queue.delete(db, args.id, clock.now()))
        if args.json:
            common.print_json({"id": queue.normalise(args.id), "deleted_recipients": count})
        else:
            print(f"{queue.normalise(args.id)}: deleted, {count} recipients marked failed (deleted by admin)")
        return 0

    return _guard(args, action)
