"""`maild departments list|enable NAME|disable NAME|pixel NAME on|off`: the per-department switches, applied live."""

from __future__ import annotations

import argparse
import getpass
import sys

from maild import clock, departments, logs
from maild.cli.common import add_config_option, load_settings, print_json
from maild.cli.visible import visible
from maild.cli.status import open_read_side
from maild.core.jsonvalue import to_json
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
    px = actions.add_parser(
        "pixel", help="switch the opt-in open pixel on or off for a department (off by default)",
        description="On: tracked copies of the department (with read receipts on) carry a one-pixel image whose "
        "fetch is recorded as an open; machine fetches (Apple's and Google's proxies, scanners) are shown, never "
        "counted as read. Privacy: the image tells maild when and, if configured, from where the mail was opened.",
        epilog="Example: maild departments pixel Sales on",
    )
    px.add_argument("name", metavar="NAME", help="department name (matched case-insensitively)")
    px.add_argument("state", choices=("on", "off"), help="on or off")
    add_config_option(px)
    px.set_defaults(func=run_pixel)


def run_list(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    db = open_read_side(settings)
    try:
        explicit = departments.list_departments(db)
        seen = [r[0] for r in db.execute("SELECT DISTINCT department FROM messages WHERE department IS NOT NULL")]
        pixel = departments.pixel_switches(db)
        switches = departments.last_switches(db)
        seen += [r[0] for r in db.execute("SELECT name FROM department_pixel")]
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
                    {"name": d.name, "receipts_enabled": d.receipts_enabled, "explicit": d.explicit,
                     "pixel": pixel.get(departments.key(d.name), False),
                     "last_switch": to_json(switches.get(departments.key(d.name)))}
                    for d in listed
                ],
            }
        )
        return 0
    width = max([len(d.name) for d in listed] + [10])
    print(f"{'department':<{width}}  receipts       pixel  last switched")
    for d in listed:
        name = visible(d.name, one_line=True)
        receipts = f"{'on' if d.receipts_enabled else 'off'}{'' if d.explicit else ' (default)'}"
        last = switches.get(departments.key(d.name))
        told = "" if last is None else (
            f"{'on' if last.receipts_enabled else 'off'} at {last.at} by {visible(last.by or '(the CLI)', one_line=True)}"
            f" ({last.via})"
        )
        print(f"{name:<{width}}  {receipts:<13}  {'on' if pixel.get(departments.key(d.name)) else 'off':<5}  {told}".rstrip())
    print(f"{'(others)':<{width}}  {'on' if default else 'off'} (tracking.receipts_default)")
    return 0


def _operator() -> str | None:
    """Who runs this command on the host: recorded as who switched (the CLI has no login of its own)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return None


def run_switch(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    if not args.name.strip():
        print("maild: a department name is required", file=sys.stderr)
        return 2
    db = open_read_side(settings)
    try:
        by = _operator()
        dept = transaction(
            db, lambda d: departments.set_receipts(d, args.name, args.enabled, clock.now(), by=by, via="cli")
        )
    finally:
        db.conn.close()
    log.info("department_receipts_switched", department=dept.name, receipts_enabled=dept.receipts_enabled, by=by,
             via="cli")
    print(f"{dept.name}: read receipts {'on' if dept.receipts_enabled else 'off'}")
    return 0


def run_pixel(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    if not args.name.strip():
        print("maild: a department name is required", file=sys.stderr)
        return 2
    db = open_read_side(settings)
    try:
        name, enabled = transaction(db, lambda d: departments.set_pixel(d, args.name, args.state == "on", clock.now()))
    finally:
        db.conn.close()
    log.info("department_pixel_switched", department=name, pixel=enabled)
    note = "" if settings.pixel.base_url else " (no [pixel] base_url configured: no image is added until there is one)"
    print(f"{name}: open pixel {'on' if enabled else 'off'}{note}")
    return 0
