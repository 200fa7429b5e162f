"""`maild parse FILE...`: run the report parser on files and print what it found, as JSON Lines or a table."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from maild import config
from maild.cli.common import add_config_option
from maild.cli.visible import json_line, raw_stdout, visible
from maild.core.jsonvalue import to_json
from maild.reports import ParseHints, parse
from maild.reports.clues import hints_for

EPILOG = """examples:
  maild parse bounce.eml                 a table of what the report says
  maild parse --json Maildir/new/* | jq .kind
  cat message.eml | maild parse - --json  read standard input
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "parse",
        help="parse DSNs, MDNs, bounces and auto-replies and show what they report",
        description="Parse report messages (DSN, MDN, bounce, auto-reply, ARF) and show the per-recipient results.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="message files; - reads standard input")
    parser.add_argument("--json", action="store_true", help="print one JSON object per file (JSON Lines)")
    add_config_option(parser)
    parser.set_defaults(func=run)


def _read(name: str) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read()
    return Path(name).read_bytes()


def parse_file(name: str, hints: ParseHints) -> dict[str, Any]:
    """One JSON Lines object: the report, or an error for a file that cannot be read."""
    try:
        raw = _read(name)
    except OSError as exc:
        return {"file": name, "error": exc.strerror or str(exc)}
    try:
        report = parse(raw, hints)
    except Exception as exc:  # parse() promises not to raise; if it ever does, still no traceback
        return {"file": name, "error": f"parser failure: {type(exc).__name__}"}
    encoded = to_json(report)
    assert isinstance(encoded, dict)
    return {"file": name, **encoded}


def run(args: argparse.Namespace) -> int:
    tracking = config.load(args.config).tracking
    hints = hints_for(tracking.return_path, tracking.delimiter)
    results = [parse_file(name, hints) for name in args.files]
    if args.json:
        for result in results:
            sys.stdout.write(json_line(result) + "\n")
    else:
        _print_table(results)
    return 1 if any("error" in r for r in results) else 0


def _print_table(results: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    tty = sys.stdout.isatty()
    console = Console(file=raw_stdout(), no_color=not tty, highlight=False, width=None if tty else 200, markup=False, emoji=False)
    table = Table(show_lines=False)
    for column in ("file", "kind", "recipient", "action", "status", "reason", "disposition", "message-id / token"):
        table.add_column(column, overflow="fold")
    for result in results:
        if "error" in result:
            table.add_row(_cell(result["file"]), "error", _cell(result["error"]), "", "", "", "", "")
            continue
        ids = " ".join(x for x in (result["original_message_id"], result["token"]) if x)
        recipients = result["recipients"] or [{}]
        for index, r in enumerate(recipients):
            table.add_row(*(_cell(c) for c in (
                result["file"] if index == 0 else "",
                result["kind"] if index == 0 else "",
                r.get("address") or "",
                r.get("action") or "",
                r.get("status") or "",
                r.get("reason") or "",
                r.get("disposition") or "",
                ids if index == 0 else "",
            )))
    console.print(table)


def _cell(value: object) -> str:
    return visible(str(value), one_line=True)
