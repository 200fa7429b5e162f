"""Documentation stays complete: every command and setting is in the README, every --help has an example."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from maild import config
from maild.cli import build_parser
from maild.cli.checkconfig import markdown_reference

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def _subparsers(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name), sub
                yield from _subparsers(sub, (*prefix, name))


COMMANDS = list(_subparsers(build_parser()))


def test_there_are_commands_to_check():
    assert len(COMMANDS) > 10


@pytest.mark.parametrize(("path", "parser"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_is_in_the_readme(path, parser):
    assert f"maild {' '.join(path)}" in README, f"`maild {' '.join(path)}` is not documented in README.md"


@pytest.mark.parametrize(("path", "parser"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_help_shows_an_example(path, parser):
    text = parser.format_help()
    assert re.search(r"examples?:\s*\n?\s*maild ", text, re.IGNORECASE), f"maild {' '.join(path)} --help has no example"


@pytest.mark.parametrize("key", [k for k, _, _ in config.describe()])
def test_every_setting_is_in_the_readme(key):
    assert f"`{key}`" in README


def test_the_readme_settings_table_is_current():
    begin, end = "<!-- settings:begin -->\n", "<!-- settings:end -->"
    assert begin in README and end in README
    block = README.split(begin, 1)[1].split(end, 1)[0]
    assert block == markdown_reference(), "run: maild check-config --describe --markdown, and paste it into README.md"
