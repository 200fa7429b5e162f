"""Maildir and LMTP sources end to end: real files, a real LMTP socket on 127.0.0.1 port 0, real parser and store."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from maild.core.urls import parse_source_url
from maild.config import ReceiptSource
from maild.receipts.lmtp import LmtpSource
from maild.receipts.maildir import MaildirSource, ensure_maildir
from tests.receipts import mail
from tests.receipts.conftest import async_wait_for, event_kinds, send

_counter = 0


def deliver(maildir: Path, raw: bytes) -> Path:
    """Deliver like an MTA: write in tmp/, rename into new/."""
    global _counter
    _counter += 1
    name = f"1700000000.M{_counter}P{os.getpid()}.test"
    tmp = maildir / "tmp" / name
    tmp.write_bytes(raw)
    target = maildir / "new" / name
    tmp.rename(target)
    return target


def files(folder: Path) -> list[str]:
    # the source makes the folder and then its new/ and cur/: a look in between sees no file yet, not an error
    return sorted(p.name for sub in ("new", "cur") if (folder / sub).is_dir() for p in (folder / sub).iterdir())


@pytest.fixture
async def maildir_source(settings, ingestor, store, tmp_path):
    source = MaildirSource(settings.receipts[0], ingestor, store)
    task = asyncio.create_task(source.run())
    await async_wait_for(lambda: source.connected, what="maildir ready")
    yield source
    await source.stop()
    await asyncio.wait_for(task, 5)


async def test_maildir_is_created_when_missing(maildir_source, tmp_path):
    root = tmp_path / "receipts"
    assert all((root / d).is_dir() for d in ("new", "cur", "tmp", ".processed/cur", ".quarantine/cur"))


async def test_maildir_report_is_recorded_and_moved_to_processed(db, maildir_source, tmp_path):
    sent = send(db, "alice@example.net")
    root = tmp_path / "receipts"
    delivered = deliver(root, mail.dsn(sent.token("alice@example.net"), "alice@example.net"))
    maildir_source.wake()
    await async_wait_for(lambda: files(root / ".processed"), what="moved to processed")
    assert files(root) == []
    assert files(root / ".processed") == [delivered.name + ":2,S"]
    assert db.execute("SELECT kind, source, via FROM events WHERE kind != 'queued'").fetchall() == [
        ("bounced", "dsn", "maildir")]


async def test_maildir_unmatched_report_goes_to_quarantine_folder_and_table(db, maildir_source, tmp_path):
    root = tmp_path / "receipts"
    deliver(root, mail.dsn(None, "nobody@example.net", original_message_id="<never@sent>"))
    maildir_source.wake()
    await async_wait_for(lambda: files(root / ".quarantine"), what="moved to quarantine")
    assert db.execute("SELECT reason FROM quarantine").fetchall() == [("no_match",)]
    assert event_kinds(db) == []


async def test_maildir_file_left_after_a_crash_before_the_move_is_not_recorded_twice(db, settings, ingestor, store, tmp_path):
    sent = send(db, "alice@example.net")
    root = tmp_path / "receipts"
    ensure_maildir(root)
    path = deliver(root, mail.mdn(sent.token("alice@example.net"), "alice@example.net"))
    await ingestor.ingest(path.read_bytes(), "maildir", path.name)  # committed, then "killed" before the move
    source = MaildirSource(settings.receipts[0], ingestor, store)
    task = asyncio.create_task(source.run())
    await async_wait_for(lambda: files(root / ".processed"), what="moved after restart")
    await source.stop()
    await task
    assert event_kinds(db) == ["displayed"]


async def test_maildir_many_reports_one_scan(db, maildir_source, tmp_path):
    sent = send(db, *[f"u{i}@example.net" for i in range(30)])
    root = tmp_path / "receipts"
    for address in sent.recipients:
        deliver(root, mail.mdn(sent.token(address), address))
    maildir_source.wake()
    await async_wait_for(lambda: len(files(root / ".processed")) == 30, what="30 processed")
    assert event_kinds(db).count("displayed") == 30


# ---------------------------------------------------------------- LMTP


@pytest.fixture
async def lmtp(ingestor, store, tmp_path):
    source = LmtpSource(ReceiptSource(url=parse_source_url("lmtp://127.0.0.1:0", tmp_path)), ingestor, store)
    await source.start()
    task = asyncio.create_task(source.run())
    yield source
    await source.stop()
    await asyncio.wait_for(task, 5)


async def lmtp_send(port: int, raw: bytes, rcpts: list[str]) -> list[int]:
    """A minimal LMTP client: returns the reply codes after DATA, one per recipient (RFC 2033)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def reply() -> int:
        while True:
            line = await asyncio.wait_for(reader.readline(), 10)
            if line[3:4] != b"-":
                return int(line[:3])

    try:
        assert await reply() == 220
        for command in (b"LHLO test", b"MAIL FROM:<>", *(b"RCPT TO:<%s>" % r.encode() for r in rcpts), b"DATA"):
            writer.write(command + b"\r\n")
            code = await reply()
            assert code in (250, 354), (command, code)
        body = raw.replace(b"\r\n.", b"\r\n..")
        writer.write(body + (b"" if body.endswith(b"\r\n") else b"\r\n") + b".\r\n")
        codes = [await reply() for _ in rcpts]
        writer.write(b"QUIT\r\n")
        return codes
    finally:
        writer.close()


async def test_lmtp_records_report_and_answers_250_for_each_recipient(db, lmtp):
    sent = send(db, "alice@example.net")
    raw = mail.dsn(sent.token("alice@example.net"), "alice@example.net", action="delayed", status="4.4.1")
    codes = await lmtp_send(lmtp.port, raw, ["receipts@helpdesk.example.com", "r2@helpdesk.example.com"])
    assert codes == [250, 250]
    assert db.execute("SELECT kind, source, via FROM events WHERE kind != 'queued'").fetchall() == [("delayed", "dsn", "lmtp")]


async def test_lmtp_answers_451_when_nothing_can_be_committed(db, lmtp, ingestor):
    async def failing(raw, source, ref):
        from maild.errors import StoreBusy

        raise StoreBusy("database is locked")

    ingestor.ingest = failing
    assert await lmtp_send(lmtp.port, mail.spam(), ["a@helpdesk.example.com", "b@helpdesk.example.com"]) == [451, 451]


async def test_lmtp_spam_is_accepted_into_quarantine(db, lmtp):
    assert await lmtp_send(lmtp.port, mail.spam(), ["receipts@helpdesk.example.com"]) == [250]
    assert db.execute("SELECT reason, source FROM quarantine").fetchall() == [("not_a_report", "lmtp")]
