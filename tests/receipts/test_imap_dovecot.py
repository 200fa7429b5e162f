"""The IMAP source against a private Dovecot: events, moves, quarantine, IDLE, TLS, restarts, UIDVALIDITY, crashes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from pathlib import Path

import pytest

from maild import config
from maild.receipts.imap import ImapSource
from maild.tokens import KeySet, mint
from tests.receipts import mail
from tests.receipts.conftest import async_wait_for, event_kinds, send
from tests.servers.dovecot import MAIL_GID, MAIL_UID

pytestmark = pytest.mark.integration


def source_settings(url: str, tmp_path: Path, password_file: Path, **extra: object) -> config.ReceiptSource:
    table = {"url": url, "password_file": str(password_file), "poll_interval": "0.2s", "command_timeout": "5s", **extra}
    return config.parse({"receipts": [table]}, tmp_path / "maild.toml").receipts[0]


@contextlib.asynccontextmanager
async def running(source: ImapSource, *, ready: bool = True):
    task = asyncio.create_task(source.run())
    try:
        if ready:
            await async_wait_for(lambda: source.connected or task.done(), what="IMAP session ready")
            if task.done():
                task.result()
        yield task
    finally:
        await source.stop()
        await asyncio.wait_for(task, 10)


@pytest.fixture
def make_source(dovecot, dovecot_user, ingestor, store, tmp_path):
    def make(folder: str = "INBOX", *, tls: bool = False, **extra: object) -> ImapSource:
        url = dovecot.url(dovecot_user, folder, tls=tls)
        settings = source_settings(url, tmp_path, dovecot.password_file(dovecot_user, tmp_path), **extra)
        return ImapSource(settings, ingestor, store)

    return make


async def append(dovecot, box, raw: bytes, folder: str = "INBOX") -> int:
    return await asyncio.to_thread(dovecot.append, box, raw, folder)


async def uids(dovecot, box, folder: str) -> list[int]:
    return await asyncio.to_thread(dovecot.uids, box, folder)


async def test_reports_are_recorded_then_moved_to_processed(db, dovecot, dovecot_user, make_source):
    sent = send(db, "alice@example.net", "bob@example.net")
    await append(dovecot, dovecot_user, mail.dsn(sent.token("alice@example.net"), "alice@example.net"))
    await append(dovecot, dovecot_user, mail.mdn(sent.token("bob@example.net"), "bob@example.net"))
    async with running(make_source()):
        await async_wait_for(lambda: len(event_kinds(db)) == 2, what="two events")
        # recorded first, then moved: the MOVE may still be on its way when the events are committed
        await async_wait_for(lambda: dovecot.uids(dovecot_user, "INBOX") == [], what="both moved out of INBOX")
        assert sorted(await uids(dovecot, dovecot_user, "processed")) == [1, 2]
    rows = db.execute("SELECT recipient, kind, source, via FROM events WHERE kind != 'queued' ORDER BY recipient").fetchall()
    assert rows == [(sent.rid("alice@example.net"), "bounced", "dsn", "imap"),
                    (sent.rid("bob@example.net"), "displayed", "mdn", "imap")]
    assert set(await asyncio.to_thread(dovecot.folders, dovecot_user)) >= {"INBOX", "processed", "quarantine"}


async def test_spam_forged_and_unknown_reports_go_to_quarantine_folder_and_table(db, dovecot, dovecot_user, make_source):
    sent = send(db, "alice@example.net")
    forged = mint(KeySet({"a": b"\x01" * 32}, "a"), sent.rid("alice@example.net"))  # signed with a key maild never had
    await append(dovecot, dovecot_user, mail.spam())
    await append(dovecot, dovecot_user, mail.mdn(forged, "alice@example.net", original_message_id=sent.message_id))
    await append(dovecot, dovecot_user, mail.dsn(None, "carol@example.net", original_message_id="<never@sent>"))
    async with running(make_source()):
        await async_wait_for(lambda: db.execute("SELECT count(*) FROM quarantine").fetchone()[0] == 3, what="3 held")
        # held first, then moved: the MOVE may still be on its way when the quarantine rows are committed
        await async_wait_for(lambda: dovecot.uids(dovecot_user, "INBOX") == [], what="all three moved out of INBOX")
    assert sorted(await uids(dovecot, dovecot_user, "quarantine")) == [1, 2, 3]
    reasons = sorted(r[0] for r in db.execute("SELECT reason FROM quarantine"))
    assert reasons == ["no_match", "not_a_report", "token_bad_signature"]
    assert event_kinds(db) == []


async def test_idle_picks_up_a_report_appended_while_waiting(db, dovecot, dovecot_user, make_source):
    sent = send(db, "alice@example.net")
    source = make_source(idle_renew="120s", idle_keepalive="120s")  # only a push can bring it in time
    async with running(source):
        await async_wait_for(lambda: source.stats.idles >= 1, what="in IDLE")
        started = time.monotonic()
        await append(dovecot, dovecot_user, mail.mdn(sent.token("alice@example.net"), "alice@example.net"))
        await async_wait_for(lambda: event_kinds(db) == ["displayed"], timeout=60, what="event via IDLE")
        assert time.monotonic() - started < 60  # well before the 120 s keepalive
        assert source.stats.idle_exits.get("push", 0) + source.stats.idle_exits.get("pending", 0) >= 1, source.stats.idle_exits
        await async_wait_for(lambda: dovecot.uids(dovecot_user, "INBOX") == [], what="moved")


async def test_idle_is_renewed_and_the_session_kept(db, dovecot, dovecot_user, make_source):
    sent = send(db, "alice@example.net")
    source = make_source(idle_renew="0.1s")
    async with running(source):
        await async_wait_for(lambda: _renewals(source) >= 3,
                             what="three IDLE renewals")
        await append(dovecot, dovecot_user, mail.mdn(sent.token("alice@example.net"), "alice@example.net"))
        await async_wait_for(lambda: event_kinds(db) == ["displayed"], what="event after renewals")
    assert source.stats.sessions == 1 and source.stats.failures == 0


def _renewals(source: ImapSource) -> int:
    return source.stats.idles


async def test_cancelled_between_commit_and_move_then_restarted_records_no_duplicate(db, dovecot, dovecot_user, make_source):
    sent = send(db, "alice@example.net")
    await append(dovecot, dovecot_user, mail.dsn(sent.token("alice@example.net"), "alice@example.net"))
    first = make_source()
    moving = asyncio.Event()

    async def hang(*args: object) -> None:  # cancelled right after the commit (a real SIGKILL: test_imap_kill.py)
        moving.set()
        await asyncio.Event().wait()

    first._move = hang  # type: ignore[method-assign]
    task = asyncio.create_task(first.run())
    await asyncio.wait_for(moving.wait(), 10)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert event_kinds(db) == ["bounced"]
    assert await uids(dovecot, dovecot_user, "INBOX") == [1]

    async with running(make_source()):
        await async_wait_for(lambda: dovecot.uids(dovecot_user, "processed") == [1], what="moved after restart")
    assert event_kinds(db) == ["bounced"]
    assert db.execute("SELECT seen, events FROM reports").fetchall() == [(2, 1)]


async def test_reconnects_after_dovecot_restart_during_idle_and_picks_up_mail(db, dovecot, dovecot_user, make_source):
    sent = send(db, "alice@example.net")
    source = make_source()
    async with running(source):
        sessions = source.stats.sessions
        await asyncio.to_thread(dovecot.stop)
        await async_wait_for(lambda: not source.connected, what="disconnect noticed")
        # mail arrives while Dovecot is down: delivered into the Maildir as the MTA would
        raw = mail.mdn(sent.token("alice@example.net"), "alice@example.net")
        new = dovecot_user.maildir / "new" / f"{int(time.time())}.M1P1.test"
        new.write_bytes(raw)
        os.chown(new, MAIL_UID, MAIL_GID)
        await asyncio.to_thread(dovecot.start)
        await async_wait_for(lambda: source.stats.sessions > sessions, timeout=20, what="reconnected")
        await async_wait_for(lambda: event_kinds(db) == ["displayed"], what="event after reconnect")


async def test_uidvalidity_change_rescans_without_skipping_or_doubling(db, dovecot, dovecot_user, make_source):
    sent = send(db, "a@example.net", "b@example.net", "c@example.net")
    box = dovecot_user
    await asyncio.to_thread(dovecot.create, box, "receipts")
    first_a = mail.mdn(sent.token("a@example.net"), "a@example.net")
    await append(dovecot, box, first_a, "receipts")
    await append(dovecot, box, mail.mdn(sent.token("b@example.net"), "b@example.net"), "receipts")
    async with running(make_source("receipts")):
        await async_wait_for(lambda: len(event_kinds(db)) == 2, what="first two")
        await async_wait_for(lambda: dovecot.uids(box, "receipts") == [], what="moved")
    old = db.execute("SELECT uidvalidity, last_uid FROM imap_state").fetchone()
    assert old[1] == 2
    await asyncio.to_thread(dovecot.recreate, box, "receipts")
    # the new folder numbers from 1 again: a replay of A (uid 1) and a new report for C (uid 2)
    await append(dovecot, box, first_a, "receipts")
    await append(dovecot, box, mail.mdn(sent.token("c@example.net"), "c@example.net"), "receipts")
    async with running(make_source("receipts")):
        await async_wait_for(lambda: len(event_kinds(db)) == 3, what="C recorded")
        await async_wait_for(lambda: dovecot.uids(box, "receipts") == [], what="both moved")
    assert sorted(event_kinds(db)) == ["displayed"] * 3
    new = db.execute("SELECT uidvalidity, last_uid FROM imap_state").fetchone()
    assert new[0] != old[0] and new[1] == 2


async def test_imaps_with_the_server_certificate(db, dovecot, dovecot_user, make_source):
    sent = send(db, "alice@example.net")
    await append(dovecot, dovecot_user, mail.mdn(sent.token("alice@example.net"), "alice@example.net"))
    async with running(make_source(tls=True, tls_ca_file=str(dovecot.ca_file))):
        await async_wait_for(lambda: event_kinds(db) == ["displayed"], what="event over IMAPS")


async def test_starttls_required_and_used(db, dovecot, dovecot_user, make_source):
    sent = send(db, "alice@example.net")
    await append(dovecot, dovecot_user, mail.mdn(sent.token("alice@example.net"), "alice@example.net"))
    async with running(make_source(starttls=True, tls_ca_file=str(dovecot.ca_file))):
        await async_wait_for(lambda: event_kinds(db) == ["displayed"], what="event over STARTTLS")
    log = dovecot.log_path.read_text(errors="replace")
    assert f"user=<{dovecot_user.name}>" in log and "TLS" in log


async def test_imaps_with_an_untrusted_certificate_never_logs_in(db, dovecot, dovecot_user, make_source):
    source = make_source(tls=True)  # system CAs: the self-signed certificate does not verify
    async with running(source, ready=False):
        await async_wait_for(lambda: source.stats.failures >= 1, what="a failed session")
    assert "CERTIFICATE_VERIFY_FAILED" in (source.stats.last_error or "")
    assert source.stats.sessions == 0
    assert f"user=<{dovecot_user.name}>" not in dovecot.log_path.read_text(errors="replace")


async def test_wrong_password_keeps_retrying_without_crashing(db, dovecot, dovecot_user, ingestor, store, tmp_path):
    bad = tmp_path / "bad.password"
    bad.write_text("wrong\n")
    source = ImapSource(source_settings(dovecot.url(dovecot_user), tmp_path, bad), ingestor, store)
    async with running(source, ready=False) as task:
        await async_wait_for(lambda: source.stats.failures >= 1, what="a failed login")
        assert not task.done()
        assert "login refused" in (source.stats.last_error or "")
    assert source.stats.sessions == 0


async def test_message_over_the_parser_limit_is_fetched_in_part_and_held_too_large(
    db, dovecot, dovecot_user, make_source, ingestor
):
    """A real server's RFC822.SIZE and partial BODY[]<0> answers: the big one is never fetched whole."""
    import dataclasses

    sent = send(db, "alice@example.net")
    ingestor.hints = dataclasses.replace(ingestor.hints, max_bytes=8000)
    big = mail.spam() + (b"y" * 76 + b"\r\n") * 200
    await append(dovecot, dovecot_user, big)
    await append(dovecot, dovecot_user, mail.mdn(sent.token("alice@example.net"), "alice@example.net"))
    source = make_source(quarantine_max_bytes="1k")
    async with running(source):
        await async_wait_for(lambda: dovecot.uids(dovecot_user, "INBOX") == [], what="both moved")
    assert await uids(dovecot, dovecot_user, "quarantine") == [1]
    assert await uids(dovecot, dovecot_user, "processed") == [1]
    reason, size, raw, truncated = db.execute("SELECT reason, size, raw, truncated FROM quarantine").fetchone()
    assert (reason, size, truncated) == ("too_large", len(big), 1)
    assert raw == big[:1024]
    assert event_kinds(db) == ["displayed"] and source.stats.too_large == 1
