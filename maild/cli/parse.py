"""`maild parse FILE...`: run the report parser on files and print what it found, as JSON Lines or a table."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from maild import config
from maild.cli.common import add_config_option
from maild.cli.visible import json_line, raw_stdout, visible
from maild.core.frozen import replace
from maild.core.jsonvalue import to_json
from maild.receipts import parsestream
from maild.receipts.parsework import GRACE, ParseTimeout
from maild.reports import ParseHints, firstuse, parse
from maild.reports.clues import hints_for

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)
if TYPE_CHECKING:
    from typing import Any

if TYPE_CHECKING:
    import argparse

# Each child pays the parser's first-use costs again (~99M instructions at dda9d8e: the first samples' plain
# reason-rule loop, lazy regexes, Python's warm-up), in parallel, once the parent has done the imports every child
# repeated (~77M, reports.firstuse, only with two children or more). So more children always shorten the clock on
# an idle machine but add CPU: a second child adds ~85M in all (bench/parse_lanes_cg.py, 320 files, the default
# against --jobs 1), and below ~55 files (~3.1M instructions each) the time it saves, half the files', is less
# than that (BENCHMARKS.md, stop 28, firstuse; 150 files before the imports moved to the parent, ~190M a child).
LANE_FILES = 55
MAX_JOBS = 4

EPILOG = f"""examples:
  maild parse bounce.eml                 a table of what the report says
  maild parse --json Maildir/new/* | jq .kind
  cat message.eml | maild parse - --json  read standard input

Each file is parsed in a child process killed {GRACE} s past the time limit: that file is
reported as an error (parse_timeout, exit status 1) and the files after it are still parsed.
From {LANE_FILES} files on, one child per usable CPU (at most {MAX_JOBS}) parses them side by side
unless --jobs says how many; the output is in the order of the files either way.
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    import argparse

    parser = sub.add_parser(
        "parse",
        help="parse DSNs, MDNs, bounces and auto-replies and show what they report",
        description="Parse report messages (DSN, MDN, bounce, auto-reply, ARF) and show the per-recipient results.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="message files; - reads standard input")
    parser.add_argument("--json", action="store_true", help="print one JSON object per file (JSON Lines)")
    parser.add_argument(
        "--time-limit", type=_seconds, default=ParseHints().time_limit, metavar="SECONDS",
        help=f"the parser's time limit per file (default %(default)s); a parse still running {GRACE} s later is killed",
    )
    parser.add_argument(
        "--jobs", type=_jobs, default=None, metavar="N",
        help=f"child processes parsing side by side (default: one per usable CPU, at most {MAX_JOBS}, "
             f"from {LANE_FILES} files on; 1 below that or when a file is -)",
    )
    add_config_option(parser)
    parser.set_defaults(func=run)


def _jobs(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= 64:
        raise argparse.ArgumentTypeError(f"must be from 1 to 64: {text!r}")
    return value


def lanes_for(files: int, jobs: int | None) -> int:
    """How many children parse side by side: `jobs` when given, else one per CPU this process may run on (at most
    MAX_JOBS) from LANE_FILES files on. parsestream takes 1 where a file is standard input."""
    if jobs is not None:
        return jobs
    if files < LANE_FILES:
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_JOBS))


def _seconds(text: str) -> float:
    import argparse

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most 3600 seconds: {text!r}")
    return value


def _read(name: str) -> bytes | str:
    """The file's bytes, or why it cannot be read."""
    try:
        return sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    except OSError as exc:
        return exc.strerror or str(exc)


def parse_file(name: str, raw: bytes | str, hints: ParseHints) -> dict[str, Any]:
    """One JSON Lines object: the report, or an error for a file that cannot be read (`raw` is then the reason)."""
    if isinstance(raw, str):
        return {"file": name, "error": raw}
    try:
        report = parse(raw, hints)
    except Exception as exc:  # parse() promises not to raise; if it ever does, still no traceback
        return {"file": name, "error": f"parser failure: {type(exc).__name__}"}
    encoded = to_json(report)
    assert isinstance(encoded, dict)
    return {"file": name, **encoded}


def results(names: list[str], hints: ParseHints, lanes: int = 1) -> Iterator[tuple[bool, str]]:
    """(failed, JSON line) per file in order, each parsed in a child process killed GRACE s past the time limit;
    `lanes` children side by side."""

    def work(item: tuple[str, bytes | str]) -> str:
        result = parse_file(*item, hints)
        return ("1" if "error" in result else "0") + json_line(result)  # the flag saves the parent a JSON decode

    lines = parsestream.stream(len(names), lambda i: (names[i], _read(names[i])), work, hints.time_limit + GRACE,
                               instant=lambda i: names[i] != "-", lanes=lanes,  # a file is read at once; standard input may wait
                               # once before two lanes or more fork, for many files: for a few given --jobs, the
                               # parent would pay in series imports a DSN's child never makes
                               prepare=firstuse.load if len(names) >= LANE_FILES else None)
    try:  # an interrupt (Ctrl-C, SIGTERM) in the caller's code still kills the child (contextlib.closing, unimported)
        for name, line in zip(names, lines, strict=True):
            if isinstance(line, str):
                yield line[0] == "1", line[1:]
            elif isinstance(line, ParseTimeout):
                yield True, json_line({"file": name, "error": f"parse_timeout: {line}"})
            else:
                yield True, json_line({"file": name, "error": f"parser failure: {line}"})
    finally:
        lines.close()


def run(args: argparse.Namespace) -> int:
    tracking = config.load(args.config).tracking
    hints = replace(hints_for(tracking.return_path, tracking.delimiter), time_limit=args.time_limit)
    failed = False
    table: list[dict[str, Any]] = []
    for bad, line in results(args.files, hints, lanes_for(len(args.files), args.jobs)):
        failed = failed or bad
        if args.json:
            sys.stdout.write(line + "\n")
        else:
            table.append(json.loads(line))
    if not args.json:
        _print_table(table)
    return 1 if failed else 0


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
