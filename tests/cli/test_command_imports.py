"""The short commands load only what they use: never the daemon's servers, network clients or logging library.

`maild ingest` runs once per receipt when Postfix pipes to it and `maild parse` once per file batch, so what
their import pulls in is their start-up. A property of the import graph, checked in a fresh interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

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


def test_help_still_lists_every_command() -> None:
    out = subprocess.run([sys.executable, "-m", "maild", "--help"], capture_output=True, text=True, check=True).stdout
    for name in ("run", "check-config", "keys", "hash-password", "queue", "parse", "ingest", "quarantine", "status", "events", "departments", "purge", "forget"):
        assert name in out


def test_the_probe_sees_what_the_daemon_imports() -> None:
    # The property above could pass vacuously if the probe saw nothing; `run` does load the daemon's parts.
    assert "maild.cli.run" in loaded_by("run")
