"""The command line's parser class: argparse's, laid out to the same width, without importing shutil for it.

argparse's help formatter asks shutil for the terminal's width, and importing shutil loads bz2, lzma, zlib
and fnmatch with it; argparse makes a formatter for every option it adds, so every command paid for them
at start-up even when no help was printed. `columns()` reads the width as shutil.get_terminal_size() does.
"""

from __future__ import annotations

import argparse
import os
import sys


def columns() -> int:
    """shutil.get_terminal_size().columns: $COLUMNS, else the terminal of sys.__stdout__, else 80."""
    try:
        width = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        width = 0
    try:
        lines = int(os.environ["LINES"])
    except (KeyError, ValueError):
        lines = 0
    if width <= 0 or lines <= 0:  # shutil asks the terminal unless both variables are set
        try:
            size = os.get_terminal_size(sys.__stdout__.fileno())  # type: ignore[union-attr]  # None: AttributeError
        except (AttributeError, ValueError, OSError):
            size = os.terminal_size((80, 24))
        if width <= 0:
            width = size.columns or 80
    return width


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose formatters get the width argparse would compute (its subparsers are Parsers too)."""

    def _get_formatter(self) -> argparse.HelpFormatter:
        # The width argparse's HelpFormatter computes when given none: the terminal's columns less 2.
        return self.formatter_class(prog=self.prog, width=columns() - 2)  # type: ignore[call-arg]
