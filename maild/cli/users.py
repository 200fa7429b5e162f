"""`maild users add|list|remove|passwd` (the panel's users and roles) and `maild embed-url` (signed panel links)."""

from __future__ import annotations

import argparse
import getpass
import sys
import time

from maild.cli.common import add_config_option, add_config_option_after, load_settings, print_json
from maild.http.auth import load_secret
from maild.web import embed
from maild.web.users import Role, add_user, load_users, remove_user, set_password


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "users",
        help="manage the web panel's users (agents and admins)",
        description="Users of the panel under /ui/, kept in web.users_file (created 0600) with scrypt hashes. "
        "An agent reads replies and tickets; an admin also switches departments and acts on the queue.",
        epilog="Example: maild users add alice --role admin; echo secret | maild users add bob --role agent --password-stdin",
    )
    add_config_option(p)
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="add a user", epilog="Example: maild users add alice --role agent")
    add.add_argument("name")
    add.add_argument("--role", choices=[str(r) for r in Role], default=str(Role.AGENT))
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    ls = actions.add_parser("list", help="users and roles (never hashes)", epilog="Example: maild users list --json")
    ls.add_argument("--json", action="store_true")
    rm = actions.add_parser("remove", help="remove a user", epilog="Example: maild users remove bob")
    rm.add_argument("name")
    pw = actions.add_parser("passwd", help="set a user's password", epilog="Example: maild users passwd alice")
    pw.add_argument("name")
    pw.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add_config_option_after(add, ls, rm, pw)
    p.set_defaults(func=run_users)

    e = sub.add_parser(
        "embed-url",
        help="print a signed link to one ticket's compact panel (no login, for a helpdesk's iframe)",
        description="The link carries its expiry and an HMAC under web.embed_key_file; a tampered or expired link "
        "gets 403. Frames are allowed only from web.embed_frame_ancestors.",
        epilog="Example: maild embed-url 1234 --ttl 3600 --base http://127.0.0.1:8025",
    )
    add_config_option(e)
    e.add_argument("ticket")
    e.add_argument("--ttl", type=int, default=3600, help="seconds the link stays valid (default 3600)")
    e.add_argument("--base", default=None, help="scheme, host and port in front (default: http://http.listen)")
    e.set_defaults(func=run_embed_url)


def _password(args: argparse.Namespace) -> str | None:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            print("maild: the passwords differ", file=sys.stderr)
            return None
    if len(password) < 8:
        print("maild: a password needs at least 8 characters", file=sys.stderr)
        return None
    return password


def run_users(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    path = settings.web.users_file
    if args.action == "list":
        users = sorted(load_users(path).values(), key=lambda u: u.name)
        if args.json:
            for u in users:
                print_json({"name": u.name, "role": str(u.role)})
        else:
            for u in users:
                print(f"{u.name}\t{u.role}")
        return 0
    if args.action == "remove":
        remove_user(path, args.name)
        print(f"{args.name}: removed (open sessions end at their idle expiry or a restart)")
        return 0
    password = _password(args)
    if password is None:
        return 2
    if args.action == "add":
        user = add_user(path, args.name, Role(args.role), password)
        print(f"{user.name}: added as {user.role}")
    else:
        set_password(path, args.name, password)
        print(f"{args.name}: password changed")
    return 0


def run_embed_url(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    if args.ttl <= 0:
        print("maild: --ttl must be a positive number of seconds", file=sys.stderr)
        return 2
    key = load_secret(settings.web.embed_key_file, "web.embed_key_file")
    base = (args.base or f"http://{settings.http.listen}").rstrip("/")
    print(base + embed.embed_path(key, args.ticket, int(time.time()) + args.ttl))
    return 0
