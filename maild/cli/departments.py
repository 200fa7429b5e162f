"""`maild departments list|enable NAME|disable NAME`: the per-department read-receipt switch, applied live."""

from __future__ import annotations

import argparse
import sys

from maild import clock, departments, logs
from maild.cli.common import add_config_option, load_settings, print_json
from maild.cli.visible import visible
from maild.cli.status import open_read_side
from maild.store import transaction

log = logs.get("departments")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "departments",
        help="list departments or switch their read receipts on and off",
        description="Read receipts are a per-department privacy setting. Off: new mail asks for no receipt and "
        "read information of the department's tickets is hidden everywhere (kept, shown again when on).",
        epilog="Example: maild departments disable Legal --config /etc/maild/maild.toml",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = actions.add_parser("list", help="list departments and their setting", epilog="Example: maild departments list --json")
    ls.add_argument("--json", action="store_true", help="print JSON")
    add_config_option(ls)
    ls.set_defaults(func=run_list)
    for name, enabled in (("enable", True), ("disable", False)):
        a = actions.add_parser(
            name, help=f"{name} read receipts for a department", epilog=f"Example: maild departments {name} Billing"
        )
        a.add_argument("name", metavar="NAME", help="department name (matched case-insensitively)")
        add_config_option(a)
        a.set_defaults(func=run_switch, enabled=enabled)


def run_list(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    db = open_read_side(settings)
    try:
        explicit = departments.list_departments(db)
        seen = [r[0] for r in db.execute("SELECT DISTINCT department FROM messages WHERE department IS NOT NULL")]
    finally:
        db.conn.close()
    default = settings.tracking.receipts_default
    rows = {departments.key(d.name): d for d in explicit}
    for name in seen:
        rows.setdefault(departments.key(name), departments.Department(name.strip(), default, False))
    listed = sorted(rows.values(), key=lambda d: departments.key(d.name))
    if args.json:
        print_json(
            {
                "default": default,
                "departments": [
                    {"name": d.name, "receipts_enabled": d.receipts_enabled, "explicit": d.explicit} for d in listed
                ],
            }
        )
        return 0
    width = max([len(d.name) for d in listed] + [10])
    print(f"{'department':<{width}}  receipts")
    for d in listed:
        name = visible(d.name, one_line=True)
        print(f"{name:<{width}}  {'on' if d.receipts_enabled else 'off'}{'' if d.explicit else ' (default)'}")
    print(f"{'(others)':<{width}}  {'on' if default else 'off'} (tracking.receipts_default)")
    return 0


def run_switch(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    if not args.name.strip():
        print("maild: a department name is required", file=sys.stderr)
        return 2
    db = open_read_side(settings)
    try:
        dept = transaction(db, lambda d: departments.set_receipts(d, args.name, args.enabled, clock.now()))
    finally:
        db.conn.close()
    log.info("department_receipts_switched", department=dept.name, receipts_enabled=dept.receipts_enabled)
    print(f"{dept.name}: read receipts {'on' if dept.receipts_enabled else 'off'}")
    return 0
