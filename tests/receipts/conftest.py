"""Fixtures for the receipts ingest tests: a migrated database, token keys, a message maild sent, report builders."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlite_utils

from maild import spool
from maild.core.events import RecipientKind
from maild.reports.model import RecipientResult, Report, ReportKind
from maild.store import open_for_command, transaction
from maild.tokens import KeySet

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
KEYS = KeySet({"a": bytes(range(32))}, "a")


@dataclasses.dataclass(frozen=True)
class Sent:
    """A message maild queued: its Message-ID and, per address, (recipient id, token)."""

    message: int
    message_id: str
    recipients: dict[str, tuple[int, str]]

    def rid(self, address: str) -> int:
        return self.recipients[address][0]

    def token(self, address: str) -> str:
        return self.recipients[address][1]


@pytest.fixture(autouse=True)
def _logs_to_current_stderr():
    """structlog keeps the stream it was configured with; a CLI test's captured stderr is closed afterwards."""
    from maild import logs

    logs.configure("warning", "json")
    yield
    logs.configure("warning", "json")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "maild.db"


@pytest.fixture
def db(db_path: Path) -> sqlite_utils.Database:
    database = open_for_command(db_path)
    yield database
    database.conn.close()


def send(db: sqlite_utils.Database, *addresses: str, message_id: str = "<m1@helpdesk.example.com>", at: datetime = T0) -> Sent:
    sub = spool.Submission(
        queue_id=spool.new_queue_id(),
        sender="agent@helpdesk.example.com",
        recipients=tuple(spool.SpoolRecipient(a, RecipientKind.TO) for a in addresses),
        headers=f"Message-ID: {message_id}\r\nSubject: [#1234] hello\r\n\r\n".encode(),
        body=b"hi\r\n",
        received_at=at,
        ticket="1234",
        message_id=message_id,
        subject="[#1234] hello",
    )
    spooled = transaction(db, lambda d: spool.enqueue(d, sub, KEYS))
    rows = {
        r[0]: (int(r[1]), r[2])
        for r in db.execute("SELECT address, id, token FROM recipients WHERE message = ?", (spooled.message,))
    }
    return Sent(spooled.message, message_id, rows)


def result(address: str | None = "alice@example.net", **kw: object) -> RecipientResult:
    fields = dict(
        address=address, original_recipient=None, action=None, status=None, reason=None, hard=None,
        diagnostic=None, remote_mta=None, disposition=None,
    )
    fields.update(kw)
    return RecipientResult(**fields)  # type: ignore[arg-type]


def report(kind: ReportKind, *recipients: RecipientResult, **kw: object) -> Report:
    fields: dict[str, object] = dict(
        kind=kind, recipients=recipients, original_message_id=None, token=None, token_candidates=(),
        envelope_id=None, reporting_mta=None, reporting_ua=None, arrival_date=None, date=None,
        subject="Delivery Status Notification", message_id="<r1@mx.example.net>", fingerprint="fp1",
    )
    fields.update(kw)
    return Report(**fields)  # type: ignore[arg-type]


@pytest.fixture
def later() -> Callable[[float], datetime]:
    return lambda minutes: T0 + timedelta(minutes=minutes)


KEY_LINE = "a:" + bytes(range(32)).hex() + "\n"


def write_config(tmp_path: Path, db_path: Path, *, receipts: str = "", busy: str = "5s") -> Path:
    key = tmp_path / "token.key"
    key.write_text(KEY_LINE)
    key.chmod(0o600)
    cfg = tmp_path / "maild.toml"
    cfg.write_text(
        f'[store]\npath = "{db_path}"\nbusy_timeout = "{busy}"\n'
        f'[tracking]\nkey_file = "token.key"\nreturn_path = "receipts@helpdesk.example.com"\n'
        + (receipts or '[[receipts]]\nurl = "maildir:receipts"\npoll_interval = "0.05s"\n')
    )
    return cfg


@pytest.fixture
def config_file(tmp_path: Path, db_path: Path, db: sqlite_utils.Database) -> Path:
    return write_config(tmp_path, db_path)


@pytest.fixture
async def store(db_path: Path, db: sqlite_utils.Database):
    from maild.store import Store

    s = Store(db_path).open()
    yield s
    s.close()


@pytest.fixture
def settings(config_file: Path):
    from maild import config

    return config.load(config_file)


@pytest.fixture
def ingestor(settings, store):
    from maild.receipts.ingest import Ingestor

    return Ingestor(settings, store, KEYS)


# A bound only a real failure reaches: on a loaded 2-core runner one ingest or IMAP round trip can take seconds.
WAIT = 30.0


def wait_for(condition: Callable[[], object], timeout: float = WAIT, what: str = "condition") -> object:
    """Poll a condition (no sleep-based synchronisation): returns its first truthy value or fails the test.
    The condition is looked at once more after the deadline (a stalled process may wake up past it)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


async def async_wait_for(condition: Callable[[], object], timeout: float = WAIT, what: str = "condition") -> object:
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def event_kinds(db: sqlite_utils.Database, recipient: int | None = None) -> list[str]:
    sql = "SELECT kind FROM events WHERE kind != 'queued'" + (" AND recipient = ?" if recipient else "") + " ORDER BY id"
    return [r[0] for r in db.execute(sql, (recipient,) if recipient else ())]


from tests.servers.fixtures import dovecot, dovecot_user  # noqa: E402,F401
from tests.daemon.conftest import maild, sink  # noqa: E402,F401  (maild run as a process, for the kill test)
