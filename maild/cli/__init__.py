"""The `maild` command line: a thin layer that parses arguments and calls one library function per command.

Each command lives in its own module with `register(subparsers)`; the module
adds its parser with an example in the help and `set_defaults(func=...)`,
where func takes the parsed arguments and returns the exit status.

Only the module of the command being run is imported (``maild parse`` never
loads the daemon's SMTP, HTTP or logging libraries): a command is one process
per receipt when Postfix pipes to ``maild ingest``, so start-up is its cost.
`maild --help` and an unknown command import every module to list them all.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Sequence

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)

if TYPE_CHECKING:
    import argparse
    from types import ModuleType

# What the command line needs beyond this module (logs, liblogs, fastargv, visible, errors) is imported by main(),
# with the cyclic collector off (see main).

# Command name -> module under maild.cli, in the order `maild --help` lists them.
COMMAND_MODULES = {
    "run": "run", "check-config": "checkconfig", "keys": "keys", "hash-password": "keys", "queue": "queue", "parse": "parse",
    "ingest": "ingest", "quarantine": "quarantine", "status": "status", "events": "events",
    "departments": "departments", "purge": "purge", "forget": "forget", "users": "users", "embed-url": "users",
    "writeback": "writeback",
}

# The commands that parse mail, one process per receipt or per batch: what the email package imports and their parse
# never calls (socket, random, calendar) is loaded on first use (maild.core.deferred).
READ_MAIL = ("parse", "ingest")


def command_modules(argv: Sequence[str] | None = None) -> list[ModuleType]:
    """The modules whose parsers the command line needs: the named command's alone, or all of them."""
    first = argv[0] if argv else None
    names = [COMMAND_MODULES[first]] if first in COMMAND_MODULES else list(dict.fromkeys(COMMAND_MODULES.values()))
    from maild.cli.fastargv import command_module

    return [command_module(name) for name in names]


def __getattr__(name: str) -> type[argparse.ArgumentParser]:
    """`Parser`, the parser class, imported on first use: a short command's usual command line needs no argparse."""
    if name == "Parser":
        from maild.cli.argparser import Parser

        globals()["Parser"] = Parser
        return Parser
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    parser_class: type[argparse.ArgumentParser] = globals().get("Parser") or __getattr__("Parser")  # the module's, which a test may replace
    parser = parser_class(
        prog="maild",
        description="Track delivery and read receipts of helpdesk mail, per reply and per recipient.",
        epilog="Example: maild run --config /etc/maild/maild.toml",
    )
    from maild import __version__

    parser.add_argument("--version", action="version", version=f"maild {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in command_modules(argv):
        module.register(sub)
    return parser


def _start(argv: Sequence[str]) -> argparse.Namespace:
    """The parsed command line, with the command's module imported and the output set up."""
    from maild import liblogs, logs
    from maild.cli import fastargv, visible

    if argv and argv[0] in READ_MAIL:
        from maild.core import deferred

        deferred.defer(*deferred.EMAIL_UNUSED)
    args = fastargv.read(argv) or build_parser(argv).parse_args(argv)
    logs.configure("warning", getattr(args, "log_format", None) or "auto")
    liblogs.route_command_output()  # a library's log record or warning is a JSON line, never plain text on stderr
    visible.install()  # mail-derived text never reaches the terminal with its control characters
    return args  # type: ignore[return-value]  # fastargv's namespace holds what argparse's would


# The command lines whose process ends as soon as it has run its exit handlers and flushed its output (see
# _quick_exit), by their leading words: `maild parse` writes nothing but standard output and opens no database; the
# readers `status`, `events` and `queue list` start no thread and close their one connection in a `finally` before
# their function returns (so nothing of SQLite's is left to the OS, whatever the outcome); `maild ingest` (one
# process per receipt when an MTA pipes to it) closes its database itself after the commit, whatever the outcome
# (cli.ingest's finally), and has reaped its one parse child by then. Not `queue` as a whole: its other actions write.
QUICK_EXIT = (("parse",), ("status",), ("events",), ("queue", "list"), ("ingest",))


def main(argv: Sequence[str] | None = None) -> int:
    program = argv is None  # this process's own command line (the console script, python -m maild), not a caller's
    if argv is None:
        argv = sys.argv[1:]
    code = _main(argv, program)
    if program and any(tuple(argv[: len(words)]) == words for words in QUICK_EXIT):
        _quick_exit(code)
    return code


def _quick_exit(code: int) -> None:
    """End this process now with `code`, after what its normal exit would do that anyone can see: the exit handlers
    (atexit: the regex cache's save, logging's flush) and the flush of standard output and error.

    What is skipped is the interpreter tearing down every module and object one by one, ~10 ms of CPU here for a
    command whose imports fill the heap (a sixth of `maild parse`'s start-up, ~3% of the readers'). Only for
    QUICK_EXIT's commands: one that left a database open would leave SQLite's connection to the OS (crash-safe, but
    its close-time checkpoint skipped and its WAL file kept until the next opener), so those commands close theirs
    before they return; and one with threads would not join them, so a process with a second thread alive takes the
    normal exit. If a flush fails (a reader that left), the normal exit runs, and reports it as it always did.
    """
    import atexit

    threading = sys.modules.get("threading")  # looked up, not imported: parse and ingest never load it
    if threading is not None and threading.active_count() > 1:
        return
    atexit._run_exitfuncs()  # and clears them: the normal exit, if it still runs, does not run them twice
    try:
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            if stream is not None:
                stream.flush()
    except Exception:  # noqa: BLE001 - BrokenPipeError, a closed stream: the interpreter's own exit deals with it
        return
    import os

    os._exit(code)


def _main(argv: Sequence[str], program: bool) -> int:
    # Importing the command's modules makes tens of thousands of objects that live as long as the process, and the
    # cyclic collector walked them some twenty times while they were made, several ms of a short command's start-up
    # for nothing to free. It is off until the command runs, which collects as before; and a process's own command
    # moves what start-up made out of the collector's sight first (gc.freeze, as the daemon's settle_heap does), so
    # the command's collections walk only what it makes. A caller's main() (the tests) freezes nothing of theirs.
    collecting = gc.isenabled()
    gc.disable()
    try:
        args = _start(argv)
    finally:
        if collecting:
            if program:
                gc.freeze()
            gc.enable()
    from maild.errors import ConfigError, MaildError

    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"maild: configuration error: {exc}", file=sys.stderr)
        return 2
    except MaildError as exc:
        print(f"maild: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # `maild ... | head`: the reader left; stop quietly like other Unix tools.
        sys.stderr.close()
        return 141
    except OSError as exc:
        print(f"maild: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        # A read on a broken or locked database: say so, no traceback. sqlite3 is looked up, not imported:
        # a command that never opened a database (parse) cannot raise its errors and need not load it.
        sqlite3 = sys.modules.get("sqlite3")
        if sqlite3 is None or not isinstance(exc, sqlite3.Error):
            # A bug or a library's failure: one JSON line with the traceback in it, not Python's plain traceback.
            from maild import logs

            logs.get("cli").exception("command_failed", command=args.command, error=f"{type(exc).__name__}: {exc}"[:500])
            return 1
        print(f"maild: database error: {exc}", file=sys.stderr)
        return 75 if "locked" in str(exc) or "busy" in str(exc) else 1
