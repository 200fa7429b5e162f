"""The short commands' usual command lines read without argparse: a strict subset of what their parsers accept.

Importing argparse (with gettext and locale) and building a command's parser was a large part of the start-up of
`maild parse`, `ingest`, `status`, `events` and `queue list`, commands that Postfix's pipe(8) and scripts run one
process at a time. `read()` recognises only the exact spellings of their options and arguments; for anything else
(--help, an abbreviation, `--`, a repeated option, a bad value, a missing or extra argument) it returns None and
argparse reads the command line as before, with its help and its error messages. The namespace it returns holds
what argparse's would (tests/cli/test_fastargv.py checks that over many command lines); `func` is looked up in the
command's module, imported only then.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from types import SimpleNamespace

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Any, TypeAlias

CONFIG = "maild.toml"  # str(config.DEFAULT_CONFIG), argparse's default for --config (the test holds them equal)
LOG_FORMATS = ("auto", "json", "console")
VIAS = ("imap", "maildir", "lmtp", "pipe")  # core.events.Via's values, ingest's --source choices (the test checks)

Convert: TypeAlias = "Callable[[str], Any]"


def _seconds(text: str) -> float | None:
    """parse's --time-limit as parse._seconds accepts it, else None (argparse then says what is wrong)."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if 0 < value <= 3600 else None


def _jobs(text: str) -> int | None:
    """parse's --jobs as parse._jobs accepts it, else None."""
    try:
        value = int(text)
    except ValueError:
        return None
    return value if 1 <= value <= 64 else None


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _choice(*choices: str) -> Convert:
    return lambda text: text if text in choices else None


def _text(text: str) -> str:
    return text


def _parse_time_limit() -> float:
    from maild.reports import ParseHints  # what `maild parse` imports anyway

    return ParseHints().time_limit


class Command:
    """One command line shape: its flags, its options with a value, and its positional arguments."""

    def __init__(self, module: str, func: str, *, flags: Sequence[str] = (), options: dict[str, tuple[Convert, Any]] | None = None,
                 positional: str | None = None, at_least: int = 0, at_most: int = 0, default: Any = None,
                 fixed: dict[str, str] | None = None) -> None:
        self.module, self.func = module, func
        self.flags = {f"--{name.replace('_', '-')}": name for name in flags}
        self.options = {"--config": (_text, CONFIG), "--log-format": (_choice(*LOG_FORMATS), None), **(options or {})}
        self.positional, self.at_least, self.at_most, self.default = positional, at_least, at_most, default
        self.fixed = fixed or {}

    def read(self, argv: Sequence[str]) -> dict[str, Any] | None:
        values: dict[str, Any] = {}
        words: list[str] = []
        words_end = -1  # where the positional run ended: argparse takes one run of them, not words between options
        i = 0
        while i < len(argv):
            word = argv[i]
            if word.startswith("-") and word != "-":
                name, eq, value = word.partition("=")
                if name in self.flags and not eq:
                    dest, got = self.flags[name], True
                elif name in self.options:
                    if not eq:
                        i += 1
                        if i == len(argv):
                            return None
                        value = argv[i]
                        if value.startswith("-"):
                            return None
                    convert, _ = self.options[name]
                    got = convert(value)
                    if got is None:
                        return None
                    dest = name[2:].replace("-", "_")
                else:
                    return None
                if dest in values:
                    return None
                values[dest] = got
                if words:
                    words_end = len(words)
            else:
                if words_end != -1:
                    return None
                words.append(word)
            i += 1
        if not self.at_least <= len(words) <= self.at_most:
            return None
        for dest in self.flags.values():
            values.setdefault(dest, False)
        for name, (_, default) in self.options.items():
            dest = name[2:].replace("-", "_")
            if dest not in values:
                values[dest] = default() if callable(default) else default
        if self.positional is not None:
            if self.at_most > 1:
                values[self.positional] = words
            else:
                values[self.positional] = words[0] if words else self.default
        return values


COMMANDS: dict[tuple[str, ...], Command] = {
    ("status",): Command("status", "run", flags=["json"], positional="ticket", at_least=1, at_most=1),
    ("events",): Command("events", "run", flags=["follow", "json"], options={
        "--ticket": (_text, None), "--recipient": (_text, None), "--since": (_text, None), "--poll": (_float, 1.0),
    }),
    ("parse",): Command("parse", "run", flags=["json"], options={"--time-limit": (_seconds, _parse_time_limit), "--jobs": (_jobs, None)},
                        positional="files", at_least=1, at_most=1 << 30),
    ("ingest",): Command("ingest", "run_ingest", flags=["json"], options={"--source": (_choice(*VIAS), "pipe")},
                         positional="file", at_most=1, default="-"),
    ("queue", "list"): Command("queue", "_list", flags=["json", "all"], fixed={"queue_command": "list"}),
}


def read(argv: Sequence[str]) -> SimpleNamespace | None:
    """The parsed command line of a short command's usual form, or None: argparse is to read it."""
    for words, command in COMMANDS.items():
        if tuple(argv[: len(words)]) == words:
            values = command.read(argv[len(words):])
            if values is None:
                return None
            module = command_module(command.module)
            return SimpleNamespace(command=words[0], **command.fixed, **values, func=getattr(module, command.func))
    return None


def command_module(name: str) -> ModuleType:
    """The module maild.cli.NAME, imported by the import statement's own machinery: importlib's package is not
    needed for it, which a command's start-up paid ~1M instructions (0.8%) to load."""
    qualified = f"maild.cli.{name}"
    __import__(qualified)
    return sys.modules[qualified]
