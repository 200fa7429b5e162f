"""`maild check-config`: validate the configuration and print the effective settings, secrets redacted."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from maild import config
from maild.cli.common import add_config_option


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "check-config",
        help="validate the configuration and print the effective settings",
        description="Validate a configuration file and print every effective setting (secret values are never read).",
        epilog="Example: maild check-config --config /etc/maild/maild.toml --json",
    )
    add_config_option(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of TOML-like text")
    p.add_argument("--describe", action="store_true", help="list every setting with its default and help text")
    p.add_argument("--markdown", action="store_true", help="with --describe: a Markdown table (the README's reference)")
    p.add_argument(
        "--message",
        metavar="FILE",
        help="say which helpdesk preset matches this message and what it finds (ticket, department, ids)",
    )
    p.set_defaults(func=run)


def markdown_reference() -> str:
    """The settings table in README.md; a test keeps the two equal."""
    lines = ["| setting | default | meaning |", "| --- | --- | --- |"]
    for key, default, help_text in config.describe():
        shown = json.dumps(default).replace("|", "\\|")
        lines.append(f"| `{key}` | `{shown}` | {help_text.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def explain_message(settings: config.Settings, path: str, *, as_json: bool) -> int:
    """What intake would make of one message file: the preset that matched, ticket, department, tracked or why not."""
    from maild.intake.incoming import read_incoming  # local: check-config alone stays light

    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        print(f"maild: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 1
    c = read_incoming(raw, "", [], settings.tracking)
    result = {
        "file": path,
        "preset": c.preset,
        "tracked": c.tracked,
        "ticket": c.ticket,
        "department": c.department,
        "ids": dict(c.ids),
        "skipped": c.skipped or None,
        "malformed": c.malformed or None,
    }
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        for key, value in result.items():
            print(f"{key} = {json.dumps(value, ensure_ascii=False)}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.describe and args.markdown:
        print(markdown_reference(), end="")
        return 0
    if args.describe:
        for key, default, help_text in config.describe():
            print(f"{key} = {json.dumps(default)}\n    {help_text}")
        return 0
    settings = config.load(args.config)
    if args.message:
        return explain_message(settings, args.message, as_json=args.json)
    from maild.secretperms import refuse_exposed

    refuse_exposed(settings)  # a secret others can read or write: exit 2 naming the file and the fix
    eff = config.effective(settings)
    if args.json:
        print(json.dumps(eff, indent=2))
        return 0
    print(f"# effective configuration of {settings.source}")
    for section, values in eff.items():
        tables = values if isinstance(values, list) else [values]
        for table in tables:
            print(f"\n[[{section}]]" if isinstance(values, list) else f"\n[{section}]")
            for key, value in table.items():
                print(f"{key} = {json.dumps(value)}")
    return 0
