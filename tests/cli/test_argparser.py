"""The command line's parser lays out help and errors exactly as argparse's own, at every terminal width."""

from __future__ import annotations

import argparse
import shutil

import pytest

import maild.cli as cli
from maild.cli.argparser import columns


@pytest.mark.parametrize("env_columns", [None, "57", "200", "0", "-3", "wide"])
@pytest.mark.parametrize("env_lines", [None, "40", "x"])
def test_columns_reads_the_width_as_shutil_does(monkeypatch: pytest.MonkeyPatch, env_columns: str | None, env_lines: str | None) -> None:
    for name, value in (("COLUMNS", env_columns), ("LINES", env_lines)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert columns() == shutil.get_terminal_size().columns


@pytest.mark.parametrize("width", ["44", "80", "131"])
@pytest.mark.parametrize("argv", [["parse"], ["ingest"], ["status"], ["events"], ["queue", "list"], ["run"]])
def test_help_and_usage_match_argparse(monkeypatch: pytest.MonkeyPatch, width: str, argv: list[str]) -> None:
    monkeypatch.setenv("COLUMNS", width)
    monkeypatch.setenv("LINES", "24")

    def texts() -> tuple[str, str, str]:
        top = cli.build_parser(argv)
        sub = top._subparsers._group_actions[0].choices[argv[0]]  # type: ignore[union-attr]
        if len(argv) > 1:
            sub = sub._subparsers._group_actions[0].choices[argv[1]]  # type: ignore[union-attr]
        return top.format_help(), sub.format_help(), sub.format_usage()

    ours = texts()
    monkeypatch.setattr(cli, "Parser", argparse.ArgumentParser)
    assert texts() == ours
