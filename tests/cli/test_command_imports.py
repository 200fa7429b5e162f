"""The short commands load only what they use: never the daemon's servers, network clients or logging library.

`maild ingest` runs once per receipt when Postfix pipes to it and `maild parse` once per file batch, so what
their import pulls in is their start-up. A property of the import graph, checked in a fresh interpreter.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from maild import config
from tests.support.reports import DSN
from tests.cli.test_status import site  # noqa: F401  (the fixture: tickets 1234 and 77 with events)

# The daemon's libraries and modules: a command that needs none of them must not pay for them.
DAEMON_ONLY = (
    "aiosmtpd", "aiohttp", "aiosmtplib", "aioimaplib", "structlog", "prometheus_client", "rich", "flufl",
    "maild.daemon", "maild.intake", "maild.http", "maild.metrics", "maild.webhooks", "maild.delivery.scheduler",
    "maild.receipts.imap", "maild.receipts.lmtp", "maild.receipts.maildir", "maild.receipts.sources",
)

PROBE = """
import json, sys
import maild.cli as cli
parser = cli.build_parser(sys.argv[1:])
json.dump(sorted(sys.modules), sys.stdout)
"""


def loaded_by(*argv: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, check=True).stdout
    return set(json.loads(out))


def offending(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


@pytest.mark.parametrize("command", ["parse", "ingest", "status", "events", "queue"])
def test_short_command_does_not_import_the_daemon(command: str) -> None:
    assert offending(loaded_by(command), DAEMON_ONLY) == []


def test_parse_does_not_import_the_store() -> None:
    assert offending(loaded_by("parse"), ("sqlite_utils", "sqlite3", "maild.store", "asyncio")) == []


# What a short command loads beyond its parser but never needs: sqlite_utils (click, dateutil, pluggy and its
# entry-point scan), asyncio and the writer thread (the daemon's store), dkimpy and dnspython (a report with no
# DKIM signature), the modern email policy, the delivery engine (queue list), the compiled presets, and stdlib
# logging (routed when a library first imports it: maild.liblogs), the schema's migrations (the database is at
# the latest version), shutil with the compressors it loads (argparse asked it for the terminal's width) and
# the daemon's counters (core.stats), and the dataclasses module with the inspect, ast, dis and tokenize it imports
# (the commands' records are core.frozen records, which make no dataclass until one is asked for).
NOT_FOR_COMMANDS = (
    "sqlite_utils", "click", "dateutil", "pluggy", "asyncio", "concurrent.futures", "maild.store.writer", "dkim", "dns",
    "email.policy", "maild.delivery", "maild.presets.match", "logging", "maild.store.schema", "maild.core.stats",
    "dataclasses", "inspect", "ast", "dis", "tokenize",
) + (
    # argparse and the gettext and locale it imports: a short command's usual command line is read by cli.fastargv
    # (argparse reads only the others, and prints the help and the errors).
    "argparse", "gettext", "locale",
    # What email.utils imports and the parser never calls (socket with selectors, random, calendar with locale):
    # deferred by maild.core.deferred for parse and ingest, and never imported by the other commands.
    "socket", "selectors", "random", "calendar",
    # threading: a command starts no thread, and parse's and ingest's fork asks _thread whether one runs.
    "threading",
    # tomllib: the configuration was loaded before (the probe's keys rotate), so its document comes from the
    # cache beside it (maild.config.document).
    "tomllib",
    # typing, and contextlib, which it imports: the commands' modules take typing's names for mypy alone, and the
    # few that run at import from maild.core.hints.
    "typing", "contextlib",
)
# What the commands that do not parse mail (status, events, queue list) never need: the parser, the email package,
# the regex pre-check machinery, shutil and the compressors it imports, and threading (a command starts no thread).
NOT_FOR_READERS = ("maild.reports", "email", "maild.core.prefilter", "shutil", "bz2", "lzma", "hashlib") + (
    # weakref (maild.switches holds per handle with _weakref's references) and importlib's package (a command's
    # module is imported by __import__): ~2.5M and ~1M instructions of a reader's start-up.
    "weakref", "importlib",
)

# What `maild ingest` (one process per receipt) never needs: multiprocessing and what it loads for its one parse,
# secrets (verifying a token needs no random bytes; minting one does) and pickle with its C module (the parse child
# sends its Report as marshal bytes: receipts.reportwire), and the stdlib's email parser with its FeedParser (a
# report with no token has its Authentication-Results read by the report parser's own reading of the header block,
# mimetree.parse_head: the test's DSN carries no token, so that path runs here).
NOT_FOR_INGEST = (
    "multiprocessing", "subprocess", "tempfile", "shutil", "bz2", "lzma", "secrets", "pickle", "_pickle",
    "email.parser", "email.feedparser",
)

RUN = """
import json, sys
import maild.cli as cli
code = cli.main(sys.argv[1:])
from maild.core.deferred import is_loaded  # a deferred module nobody used is in sys.modules but never ran
json.dump(sorted(name for name in list(sys.modules) if is_loaded(name)), sys.__stderr__)
"""


def loaded_running(tmp_path: Path, *argv: str, stdin: bytes | None = None) -> set[str]:
    """Modules loaded once the command has run to its end, on a fresh configuration and database."""
    config = tmp_path / "maild.toml"
    if not config.exists():
        config.write_text('[store]\npath = "maild.db"\n[tracking]\nkey_file = "token.key"\n')
        subprocess.run([sys.executable, "-m", "maild", "keys", "rotate", "--config", str(config)], capture_output=True, check=True)
        # A database of the current schema, as a command meets it after the daemon's first start.
        subprocess.run([sys.executable, "-m", "maild", "status", "0", "--config", str(config)], capture_output=True)
    run = subprocess.run([sys.executable, "-c", RUN, *argv, "--config", str(config)], input=stdin, capture_output=True, check=False)
    return set(json.loads(run.stderr.decode().strip().splitlines()[-1]))




@pytest.mark.parametrize(
    "argv",
    [["status", "1234", "--json"], ["events", "--json"], ["queue", "list"], ["ingest", "--json", "-"], ["parse", "--json", "-"]],
    ids=lambda a: a[0],
)
def test_short_command_runs_without_the_daemon_machinery(tmp_path: Path, argv: list[str]) -> None:
    loaded = loaded_running(tmp_path, *argv, stdin=DSN)
    # The probe saw the command do its work: open the database, or parse the report.
    assert ("maild.reports.dsn" if argv[0] == "parse" else "sqlite3") in loaded
    assert offending(loaded, NOT_FOR_COMMANDS + DAEMON_ONLY) == []
    if argv[0] in ("status", "events", "queue"):
        assert offending(loaded, NOT_FOR_READERS) == []
    if argv[0] == "parse":
        assert offending(loaded, ("shutil", "bz2", "lzma")) == []
    if argv[0] == "ingest":  # one parse in a forked child (parsestream.OneShotParser), not parsework's kept pool
        assert offending(loaded, NOT_FOR_INGEST) == []


@pytest.mark.parametrize("argv", [["status", "1234", "--json"], ["status", "77", "--json"], ["events", "--json"]], ids=" ".join)
def test_readers_encode_real_tickets_without_the_dataclasses_module(site: Path, argv: list[str]) -> None:  # noqa: F811
    # On a store with replies, events and failures the JSON encoder writes every record type's encoder: from
    # core.frozen's fields, not dataclasses.fields(), which would import dataclasses (and inspect) at run time.
    probe = RUN.replace("code = cli.main(sys.argv[1:])", "code = cli.main(sys.argv[1:]); assert code == 0, code")
    config.load(site / "maild.toml")  # the file's first load (it parses the TOML) is not the one measured here
    run = subprocess.run([sys.executable, "-c", probe, *argv, "--config", str(site / "maild.toml")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert '"a@example.net"' in run.stdout or '"z@example.org"' in run.stdout  # it did print the ticket's recipients
    loaded = set(json.loads(run.stderr.strip().splitlines()[-1]))
    assert offending(loaded, NOT_FOR_COMMANDS + DAEMON_ONLY + NOT_FOR_READERS) == []


def test_help_still_lists_every_command() -> None:
    out = subprocess.run([sys.executable, "-m", "maild", "--help"], capture_output=True, text=True, check=True).stdout
    for name in ("run", "check-config", "keys", "hash-password", "queue", "parse", "ingest", "quarantine", "status", "events", "departments", "purge", "forget"):
        assert name in out


def test_the_probe_sees_what_the_daemon_imports() -> None:
    # The property above could pass vacuously if the probe saw nothing; `run` does load the daemon's parts.
    assert "maild.cli.run" in loaded_by("run")


DATACLASSES = """
import dataclasses, json, sys
import maild.cli as cli
cli.build_parser(sys.argv[1:])
for name in list(sys.modules):
    if name.startswith("maild"):
        __import__(name)
generated = sorted(
    f"{module.__name__}.{obj.__name__}"
    for name, module in list(sys.modules.items()) if name.startswith("maild")
    for obj in list(vars(module).values())
    if isinstance(obj, type) and dataclasses.is_dataclass(obj) and obj.__module__ == module.__name__
    and (obj.__doc__ or "").startswith(obj.__name__ + "(")
)
json.dump({"generated": generated, "tokenize_regex": any("FR|" in str(k) for k in __import__("re")._cache)}, sys.stdout)
"""


def dataclass_docs(command: str) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", DATACLASSES, command], capture_output=True, text=True, check=True).stdout
    found: dict[str, object] = json.loads(out)
    return found


@pytest.mark.parametrize("command", ["parse", "ingest", "status", "events", "queue"])
def test_no_command_compiles_tokenize_for_a_dataclass_docstring(command: str) -> None:
    # dataclass() writes a missing docstring from inspect.signature(cls): for a settings table (init=False) that
    # reads object's signature through tokenize and compiles tokenize's large regex, at every command's start.
    assert dataclass_docs(command)["tokenize_regex"] is False


@pytest.mark.parametrize("command", ["parse", "ingest", "status", "events", "queue"])
def test_command_dataclasses_have_their_own_docstring(command: str) -> None:
    # Each generated docstring is one inspect.signature() call at import; the short commands pay none.
    assert dataclass_docs(command)["generated"] == []


def test_the_records_every_short_command_imports_have_shared_methods() -> None:
    # dataclass(frozen=True) compiles five or six methods per class at import; these classes are imported by
    # every short command (the settings tables, the URLs of their defaults, the reason table, the parser's values).
    from maild.config import sections
    from maild.core import frozen as frozen_module
    from maild.core import reasons, urls
    from maild.reports import clues, model

    records = [
        *(cls for cls in vars(sections).values() if isinstance(cls, type) and cls.__module__ == sections.__name__
          and dataclasses.is_dataclass(cls)),
        urls.UpstreamUrl, urls.SourceUrl, reasons.ReasonInfo, clues.ParseHints, model.Report, model.RecipientResult,
    ]
    assert len(records) > 10
    generated = [cls.__name__ for cls in records for name in ("__init__", "__setattr__", "__eq__")
                 if getattr(cls, name).__code__.co_filename == "<string>"]
    assert generated == []
    # A record made many times (the reason table's) may have its one __init__ compiled by core.frozen, not six methods.
    assert all(cls.__init__.__code__.co_filename in (frozen_module.__file__, f"<maild.core.frozen {cls.__qualname__}>")
               for cls in records)


EVERY_PARSER_MODULE = """
import json, os, sys
import maild.reports
for folder, package in ((maild.reports.__path__[0], "maild.reports"), (maild.reports.lhost.__path__[0], "maild.reports.lhost")):
    for name in sorted(os.listdir(folder)):
        if name.endswith(".py") and name != "__init__.py":
            __import__(f"{package}.{name[:-3]}")
json.dump(sorted(sys.modules), sys.stdout)
"""


def test_every_parser_module_loads_without_typing_or_dataclasses() -> None:
    # The parser's modules loaded on a message's first need (the text receipts, TNEF, Amazon SES, the bounce
    # heuristics) are the start-up of the `maild parse` or `maild ingest` that reads such a message: each of them,
    # not only those one DSN reaches, takes typing's names for mypy alone and makes core.frozen records.
    out = subprocess.run([sys.executable, "-c", EVERY_PARSER_MODULE], capture_output=True, text=True, check=True).stdout
    loaded = set(json.loads(out))
    assert {"maild.reports.tnef", "maild.reports.ses", "maild.reports.receipt_locales", "maild.reports.lhost.gmail"} <= loaded
    assert offending(loaded, ("typing", "contextlib", "dataclasses", "inspect", "logging", "threading") + DAEMON_ONLY) == []
