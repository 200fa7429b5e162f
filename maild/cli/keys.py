"""`maild keys` and `maild hash-password`: token key rotation and SMTP AUTH password hashes."""

from __future__ import annotations

import argparse
import getpass
import sys

from maild import tokens
from maild.cli.common import add_config_option, load_settings
from maild.intake.auth import hash_password


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "keys",
        help="show or rotate the token signing keys",
        description="Token keys: `list` shows key ids (never secrets); `rotate` adds a new signing key in front, "
        "keeping the old ones so tokens already sent still verify.",
        epilog="Example: maild keys rotate --config /etc/maild/maild.toml && systemctl reload maild",
    )
    add_config_option(p)
    p.add_argument("action", choices=["list", "rotate"])
    p.set_defaults(func=run_keys)

    h = sub.add_parser(
        "hash-password",
        help="print a users-file line for SMTP AUTH",
        description="Read a password from the terminal (or stdin) and print 'USER:scrypt$...' for intake.users_file.",
        epilog="Example: maild hash-password helpdesk >> /etc/maild/users",
    )
    h.add_argument("user")
    h.set_defaults(func=run_hash)


def run_keys(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    path = settings.tracking.key_file
    if args.action == "list":
        keys = tokens.load_keys(path)
        for key_id in keys.keys:
            print(f"{key_id}{'  (signing)' if key_id == keys.signing else ''}")
        return 0
    keys = tokens.load_keys(path, create=True)
    line = tokens.new_key_line(keys)
    text = path.read_text("utf-8")
    comments = [ln for ln in text.splitlines() if ln.strip().startswith("#")]
    rest = [ln for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    tmp = path.with_suffix(path.suffix + ".new")
    tmp.write_text("\n".join([*comments, line, *rest]) + "\n", "utf-8")
    tmp.chmod(0o600)
    tmp.replace(path)
    print(f"new signing key {line.split(':')[0]}; reload maild (SIGHUP) to use it", file=sys.stderr)
    return 0


def run_hash(args: argparse.Namespace) -> int:
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            print("maild: passwords differ", file=sys.stderr)
            return 1
    else:
        password = sys.stdin.readline().rstrip("\n")
    if not password:
        print("maild: empty password", file=sys.stderr)
        return 1
    print(f"{args.user}:{hash_password(password)}")
    return 0
