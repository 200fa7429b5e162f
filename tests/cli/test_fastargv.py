"""fastargv reads a short command's usual command line exactly as argparse does, and leaves every other one to it."""

from __future__ import annotations

import contextlib
import io
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import maild.cli as cli
from maild import config
from maild.cli import fastargv
from maild.core.events import Via


def by_argparse(argv: list[str]) -> dict[str, Any] | None:
    """argparse's namespace as a dict, or None when it refuses the command line (or prints help) and exits."""
    try:
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            return vars(cli.build_parser(argv).parse_args(argv))
    except SystemExit:
        return None


def by_fastargv(argv: list[str]) -> dict[str, Any] | None:
    fast = fastargv.read(argv)
    return None if fast is None else vars(fast)


USUAL = [
    ["status", "1234", "--json"],
    ["status", "1234"],
    ["status", "--json", "77", "--config", "/etc/maild/maild.toml"],
    ["status", "1", "--config=x.toml", "--log-format", "json"],
    ["status", ""],
    ["events", "--json"],
    ["events"],
    ["events", "--ticket", "1234", "--since", "2026-03-01T00:00:00Z", "--json", "--config", "m.toml"],
    ["events", "--recipient", "a@example.net", "--follow", "--poll", "0.5", "--since", "12"],
    ["events", "--poll=2"],
    ["queue", "list"],
    ["queue", "list", "--json", "--all", "--config", "c.toml"],
    ["parse", "--json", "-"],
    ["parse", "a.eml", "b.eml", "--json"],
    ["parse", "--time-limit", "2.5", "--json", "a.eml", "b.eml"],
    ["parse", "a.eml", "--time-limit=3600", "--config", "m.toml", "--log-format=console"],
    ["parse", "--jobs", "2", "--json", "a.eml", "b.eml"],
    ["parse", "a.eml", "--jobs=64"],
    ["ingest", "--json", "-"],
    ["ingest"],
    ["ingest", "--config", "/etc/maild/maild.toml"],
    ["ingest", "bounce.eml", "--source", "imap"],
    ["ingest", "--source=lmtp", "-", "--log-format", "auto"],
]

# Command lines argparse reads otherwise or refuses: fastargv must leave each to it.
UNUSUAL = [
    ["status"], ["status", "1", "2"], ["status", "--js", "1"], ["status", "-h"], ["status", "--help"], ["status", "--", "1"],
    ["status", "-5"], ["status", "1", "--json", "--json"], ["status", "1", "--json=yes"], ["status", "1", "--config"],
    ["status", "1", "--config", "--json"], ["status", "1", "--log-format", "xml"], ["status", "1", "--bogus"],
    ["events", "--poll", "often"], ["events", "stray"], ["events", "--since"],
    ["queue"], ["queue", "lis"], ["queue", "list", "7"], ["queue", "--json", "list"], ["queue", "show", "7"],
    ["parse"], ["parse", "a", "--json", "b"], ["parse", "--time-limit", "0", "a"], ["parse", "--time-limit", "x", "a"],
    ["parse", "--time-limit", "4000", "a"], ["parse", "--time", "2", "a"],
    ["parse", "--jobs", "0", "a"], ["parse", "--jobs", "65", "a"], ["parse", "--jobs", "1.5", "a"], ["parse", "--jobs", "a"],
    ["ingest", "a", "b"], ["ingest", "--source", "smtp"], ["ingest", "--source", "pipe", "--source", "imap"],
    ["--version"], ["--config", "x", "status", "1"], [], ["run"], ["check-config"], ["users", "list"],
]


def test_the_usual_command_lines_are_read_as_argparse_reads_them() -> None:
    for argv in USUAL:
        fast = by_fastargv(argv)
        assert fast is not None, argv  # the usual forms never pay for argparse
        assert fast == by_argparse(argv), argv


def test_every_other_command_line_is_left_to_argparse() -> None:
    for argv in UNUSUAL:
        assert by_fastargv(argv) is None, argv


def test_its_defaults_and_choices_are_the_parsers() -> None:
    assert fastargv.CONFIG == str(config.DEFAULT_CONFIG)
    assert fastargv.VIAS == tuple(v.value for v in Via)


WORDS = ["status", "events", "queue", "list", "parse", "ingest", "--json", "--all", "--follow", "--config", "--config=c",
         "--log-format", "json", "xml", "--log-format=auto", "--time-limit", "2", "0", "-1", "--poll", "--source", "imap",
         "--ticket", "--since", "--recipient", "-", "--", "--js", "-h", "1234", "a.eml", "", "x y", "-x y", "--json=1"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=7))
def test_whatever_fastargv_reads_argparse_reads_the_same(argv: list[str]) -> None:
    fast = by_fastargv(argv)
    if fast is not None:
        assert fast == by_argparse(argv)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["status 1", "events", "queue list", "parse a.eml", "ingest"]),
       st.lists(st.sampled_from(WORDS[6:]), max_size=6))
def test_whatever_fastargv_reads_after_a_command_argparse_reads_the_same(command: str, rest: list[str]) -> None:
    argv = [*command.split(), *rest]
    fast = by_fastargv(argv)
    if fast is not None:
        assert fast == by_argparse(argv)


def test_parse_uses_one_child_per_cpu_only_for_many_files(monkeypatch) -> None:
    from maild.cli import parse

    monkeypatch.setattr(parse.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4, 5, 6, 7})
    assert parse.lanes_for(parse.LANE_FILES - 1, None) == 1
    assert parse.lanes_for(parse.LANE_FILES, None) == parse.MAX_JOBS
    assert parse.lanes_for(3, 2) == 2  # asked for: as asked
    monkeypatch.setattr(parse.os, "sched_getaffinity", lambda pid: {3})  # pinned to one CPU (taskset, a cgroup)
    assert parse.lanes_for(500, None) == 1
