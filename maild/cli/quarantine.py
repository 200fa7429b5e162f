"""`maild quarantine list|show|retry|delete`: the reports maild could not parse, correlate or verify; run again or dropped."""

from __future__ import annotations

import argparse
import functools
import getpass
import sys

from maild.config import Settings

from maild import clock, logs, tokens
from maild.cli.common import add_config_option, add_config_option_after, load_settings, print_json
from maild.core.jsonvalue import to_json
from maild.receipts import quarantine as q
from maild.receipts.authn import UntokenedPolicy
from maild.receipts.ingest import hints_from, ingest_now, policy_from
from maild.store import open_for_command, transaction
from maild.core.sqldb import Db

log = logs.get("quarantine")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "quarantine",
        help="list, show, retry or delete quarantined receipts",
        description="Receipts that could not be parsed, correlated or verified are held with their raw bytes. "
        "`list` shows them, `show ID` one of them (`--raw` prints the message), `retry ID...|--all` runs them "
        "through ingest again (after a key was restored, a parser fix...). A retried report that now applies is "
        "marked released; one still failing stays held with its new reason. `delete ID...` drops items and their "
        "raw bytes for good (spam, a report nobody needs): the only way anything leaves the quarantine.",
        epilog="Example: maild quarantine list --json --config /etc/maild/maild.toml; maild quarantine retry --all",
    )
    add_config_option(p)
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = actions.add_parser(
        "list", help="held items (with --all also released ones)", epilog="Example: maild quarantine list --json"
    )
    ls.add_argument("--all", action="store_true", help="include items a retry released")
    ls.add_argument("--json", action="store_true", help="one JSON object per line")
    ls.add_argument("--limit", type=int, default=1000)
    show = actions.add_parser(
        "show", help="one item and what the report said", epilog="Example: maild quarantine show 12 --raw > held.eml"
    )
    show.add_argument("id", type=int)
    show.add_argument("--raw", action="store_true", help="print the raw message instead")
    show.add_argument("--json", action="store_true")
    retry = actions.add_parser(
        "retry", help="ingest items again", epilog="Example: maild quarantine retry --all  # after restoring a key"
    )
    retry.add_argument("ids", type=int, nargs="*", metavar="ID")
    retry.add_argument("--all", action="store_true", help="every held item")
    retry.add_argument(
        "--accept-unauthenticated", action="store_true",
        help="apply reports without a token on Message-ID + address even with no aligned DKIM signature "
        "(for items held as untokened_unauthenticated that you checked by hand)",
    )
    retry.add_argument("--json", action="store_true")
    delete = actions.add_parser(
        "delete", help="drop items and their raw bytes for good",
        description="Deletes quarantined items with their raw bytes; this cannot be undone (`show ID --raw` first "
        "to keep a copy). If the same report arrives again it is held again. Logged with who ran it.",
        epilog="Example: maild quarantine delete 12 14",
    )
    delete.add_argument("ids", type=int, nargs="+", metavar="ID")
    delete.add_argument("--json", action="store_true", help="one JSON object per line")
    add_config_option_after(ls, show, retry, delete)
    p.set_defaults(func=run_quarantine)


def run_quarantine(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    db = open_for_command(settings.store.path, busy_timeout=settings.store.busy_timeout)
    try:
        if args.action == "list":
            return _list(db, args)
        if args.action == "show":
            return _show(db, args)
        if args.action == "delete":
            return _delete(db, args)
        return _retry(db, args, settings)
    finally:
        db.conn.close()


def _list(db: Db, args: argparse.Namespace) -> int:
    held = q.items(db, include_released=args.all, limit=args.limit)
    if args.json:
        for item in held:
            print_json(to_json(item))
        return 0
    if not held:
        print("quarantine is empty")
        return 0
    print(f"{'ID':>6}  {'RECEIVED':24}  {'SOURCE':8}  {'STATE':8}  {'REASON':24}  KIND / SUBJECT")
    for item in held:
        what = f"{item.detail.get('kind', '?')} / {(item.detail.get('subject') or '')[:50]}"
        print(f"{item.id:>6}  {item.received_at:24}  {item.source:8}  {item.state:8}  {item.reason:24}  {what}")
    return 0


def _show(db: Db, args: argparse.Namespace) -> int:
    found = q.get(db, args.id)
    if found is None:
        if args.json:
            print_json({"id": args.id, "error": "unknown quarantine id"})
        else:
            print(f"maild: no quarantine item {args.id}", file=sys.stderr)
        return 1
    item, raw = found
    if args.raw:
        sys.stdout.buffer.write(raw)
        return 0
    if args.json:
        print_json(to_json(item))
        return 0
    shown = to_json(item)
    assert isinstance(shown, dict)
    for key, value in shown.items():
        if key != "detail":
            print(f"{key}: {value}")
    for key, value in sorted(item.detail.items()):
        print(f"detail.{key}: {value}")
    return 0


def _retry(db: Db, args: argparse.Namespace, settings: Settings) -> int:
    if not args.ids and not args.all:
        print("maild: give quarantine ids or --all", file=sys.stderr)
        return 2
    keys = tokens.load_keys(settings.tracking.key_file)  # fresh: a restored key applies now
    hints = hints_from(settings.tracking)
    policy = policy_from(settings.tracking)
    if args.accept_unauthenticated:
        policy = UntokenedPolicy(policy.trusted_authserv_ids, allow_unauthenticated=True)
    ids = [i.id for i in q.items(db)] if args.all else args.ids
    status = 0
    for item_id in ids:
        found = q.get(db, item_id)
        if found is None:
            print(f"maild: no quarantine item {item_id}", file=sys.stderr)
            status = 1
            continue
        item, raw = found
        now = clock.now()
        # quarantine_id: this row is released (or held again) whatever fingerprint the bytes parse to now
        outcome = ingest_now(
            db, raw, keys, hints, item.source, f"quarantine:{item.id}", now, quarantine_id=item.id, policy=policy
        )
        db.conn.execute("BEGIN IMMEDIATE")
        q.mark_retried(db, item.id, now)
        db.conn.execute("COMMIT")
        row = {
            "id": item.id,
            "applied": outcome.applied,
            "duplicates": outcome.duplicates,
            "quarantine": str(outcome.quarantine) if outcome.quarantine else None,
            "released": outcome.quarantine is None,
        }
        if args.json:
            print_json(row)
        else:
            state = "released" if row["released"] else f"still held ({row['quarantine']})"
            print(f"{item.id}: {state}, {outcome.applied} event(s) recorded, {outcome.duplicates} already known")
    return status


def _operator() -> str | None:
    """Who runs this command on the host (the CLI has no login of its own)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return None


def _delete(db: Db, args: argparse.Namespace) -> int:
    by = _operator()
    status = 0
    for item_id in dict.fromkeys(args.ids):
        gone = transaction(db, functools.partial(q.delete, item_id=item_id))
        if gone is None:
            if args.json:
                print_json({"id": item_id, "error": "unknown quarantine id"})
            else:
                print(f"maild: no quarantine item {item_id}", file=sys.stderr)
            status = 1
            continue
        log.info("quarantine_deleted", id=gone.id, reason=str(gone.reason), state=str(gone.state), by=by, via="cli")
        if args.json:
            print_json({"id": gone.id, "deleted": True, "reason": str(gone.reason), "state": str(gone.state)})
        else:
            print(f"{gone.id}: deleted ({gone.state}, {gone.reason}, received {gone.received_at})")
    return status
