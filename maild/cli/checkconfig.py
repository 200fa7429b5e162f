"""`maild check-config`: validate the configuration and print the effective settings, secrets redacted."""

from __future__ import annotations

import argparse
import json

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
    p.set_defaults(func=run)


def markdown_reference() -> str:
    """The settings table in README.md; a test keeps the two equal."""
    lines = ["| setting | default | meaning |", "| --- | --- | --- |"]
    for key, default, help_text in config.describe():
        shown = json.dumps(default).replace("|", "\\|")
        lines.append(f"| `{key}` | `{shown}` | {help_text.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    if args.describe and args.markdown:
        print(markdown_reference(), end="")
        return 0
    if args.describe:
        for key, default, help_text in config.describe():
            print(f"{key} = {json.dumps(default)}\n    {help_text}")
        return 0
    settings = config.load(args.config)
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
