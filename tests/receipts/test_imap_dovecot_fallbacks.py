"""The IMAP source's fallbacks against a real Dovecot that does not advertise MOVE (and then not UIDPLUS either),
configured with a trimmed `imap_capability`: COPY + \\Deleted + UID EXPUNGE of exactly maild's UIDs, or COPY +
\\Deleted and never an expunge. The scripted fake server covers the races (someone else's flagged mail between FETCH
and EXPUNGE); this is the same logic against Dovecot."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest

from maild import logs
from maild.receipts.imap import ImapSource
from tests.receipts import mail
from tests.receipts.conftest import async_wait_for, event_kinds, send
from tests.receipts.test_imap_dovecot import source_settings
from tests.servers.dovecot import Dovecot, Mailbox, available

pytestmark = pytest.mark.integration

NO_MOVE = "IMAP4rev1 LITERAL+ SASL-IR LOGIN-REFERRALS ID ENABLE IDLE UIDPLUS"
NO_MOVE_NO_UIDPLUS = "IMAP4rev1 LITERAL+ SASL-IR LOGIN-REFERRALS ID ENABLE IDLE"


@pytest.fixture(scope="module", params=[NO_MOVE, NO_MOVE_NO_UIDPLUS], ids=["no-MOVE", "no-MOVE-no-UIDPLUS"])
def trimmed(request: pytest.FixtureRequest) -> Iterator[Dovecot]:
    why = available()
    if why:
        pytest.skip(f"private Dovecot unavailable: {why}")
    server = Dovecot.start_new(imap_capability=request.param)
    try:
        yield server
    finally:
        server.close()


def capability(server: Dovecot, box: Mailbox) -> set[str]:
    with server.client(box) as c:
        _, data = c.capability()
    return set(data[0].decode().upper().split())


def all_uids_and_deleted(server: Dovecot, box: Mailbox, folder: str) -> tuple[list[int], list[int]]:
    with server.client(box) as c:
        c.select(folder, readonly=True)
        _, every = c.uid("SEARCH", "ALL")
        _, deleted = c.uid("SEARCH", "DELETED")
    as_list = lambda d: [int(x) for x in d[0].split()] if d and d[0] else []  # noqa: E731
    return as_list(every), as_list(deleted)


async def test_fallback_against_dovecot_without_move(db, trimmed, ingestor, store, tmp_path, capsys) -> None:
    box = trimmed.add_user()
    caps = capability(trimmed, box)
    assert "MOVE" not in caps and "IMAP4REV1" in caps  # the server really is trimmed
    uidplus = "UIDPLUS" in caps
    sent = send(db, "alice@example.net")
    await asyncio.to_thread(trimmed.append, box, mail.dsn(sent.token("alice@example.net"), "alice@example.net"))
    await asyncio.to_thread(trimmed.append, box, mail.spam())

    logs.configure("info", "json")  # to read what the session saw, on the captured stderr
    settings = source_settings(trimmed.url(box), tmp_path, trimmed.password_file(box, tmp_path), idle_keepalive="0.2s")
    source = ImapSource(settings, ingestor, store)
    task = asyncio.create_task(source.run())
    try:
        await async_wait_for(lambda: trimmed.uids(box, "processed") == [1], timeout=30, what="DSN copied to processed")
        await async_wait_for(lambda: len(trimmed.uids(box, "quarantine")) == 1, timeout=30, what="spam copied")
        if uidplus:
            await async_wait_for(lambda: all_uids_and_deleted(trimmed, box, "INBOX")[0] == [], timeout=30,
                                 what="UID EXPUNGE of the two copied UIDs")
        else:
            await async_wait_for(lambda: all_uids_and_deleted(trimmed, box, "INBOX") == ([1, 2], [1, 2]),
                                 timeout=30, what="both originals flagged \\Deleted, nothing expunged")
            # and a later poll still expunges nothing (a plain EXPUNGE would remove others' flagged mail too)
            later = source.stats.idle_exits.get("keepalive", 0) + 2
            await async_wait_for(lambda: source.stats.idle_exits.get("keepalive", 0) >= later, timeout=30,
                                 what="two more keepalive searches")
    finally:
        await source.stop()
        await asyncio.wait_for(task, 10)
    records = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    ready = [r for r in records if r.get("event") == "imap_session_ready"]
    assert ready and ready[0]["move"] is False
    assert any(r.get("event") == "imap_no_uidplus" for r in records) is (not uidplus)
    assert event_kinds(db) == ["bounced"]
    assert db.execute("SELECT count(*) FROM quarantine").fetchone()[0] == 1
    if not uidplus:  # after the session ended: still there, still flagged, never expunged
        assert all_uids_and_deleted(trimmed, box, "INBOX") == ([1, 2], [1, 2])
