"""The IMAP inbound source against the private Dovecot: replies recorded, the mailbox left exactly as it was, restarts."""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
from pathlib import Path

import pytest

from maild import config, queries
from maild.inbound.imap import InboundImapSource
from tests.inbound import mail
from tests.inbound.conftest import replied, send
from tests.receipts.conftest import async_wait_for

pytestmark = pytest.mark.integration
MID = "<m1@helpdesk.example.com>"


def inbound_settings(url: str, tmp_path: Path, password_file: Path, **extra: object) -> config.InboundSource:
    table = {"url": url, "password_file": str(password_file), "command_timeout": "5s", **extra}
    return config.parse({"inbound": [table]}, tmp_path / "maild.toml").inbound[0]


@pytest.fixture
def make_source(dovecot, dovecot_user, store, tmp_path):
    def make(**extra: object) -> InboundImapSource:
        settings = inbound_settings(dovecot.url(dovecot_user), tmp_path, dovecot.password_file(dovecot_user, tmp_path),
                                    **extra)
        return InboundImapSource(settings, store)

    return make


@contextlib.asynccontextmanager
async def running(source: InboundImapSource):
    task = asyncio.create_task(source.run())
    try:
        await async_wait_for(lambda: source.connected or task.done(), what="IMAP session ready")
        if task.done():
            task.result()
        yield task
    finally:
        await source.stop()
        await asyncio.wait_for(task, 10)


def snapshot(dovecot, box) -> tuple[dict[str, bytes], dict[int, str]]:
    """Every message file of the mailbox (path -> bytes; Maildir names carry the flags) and each UID's IMAP flags."""
    files = {
        str(p.relative_to(box.maildir)): p.read_bytes()
        for p in sorted(box.maildir.rglob("*"))
        if p.is_file() and p.parent.name in ("new", "cur", "tmp")
    }
    c = imaplib.IMAP4(dovecot.host, dovecot.port, timeout=10)
    try:
        c.login(box.name, box.password)
        c.select("INBOX", readonly=True)
        typ, data = c.uid("FETCH", "1:*", "(FLAGS)")
        flags = {}
        for line in data:
            if isinstance(line, bytes) and b"UID" in line:
                text = line.decode()
                uid = int(text.split("UID ")[1].split()[0].rstrip(")"))
                flags[uid] = text.split("FLAGS (")[1].split(")")[0]
    finally:
        c.logout()
    return files, flags


async def append(dovecot, box, raw: bytes) -> int:
    return await asyncio.to_thread(dovecot.append, box, raw)


async def set_flags(dovecot, box, uid: int, flags: str) -> None:
    def job() -> None:
        with dovecot.client(box) as c:
            c.select("INBOX")
            c.uid("STORE", str(uid), "+FLAGS", flags)
    await asyncio.to_thread(job)


async def test_replies_are_recorded_and_the_mailbox_stays_byte_and_flag_identical(
    db, dovecot, dovecot_user, make_source
) -> None:
    send(db, ("alice@example.net", "to"), ("bob@example.net", "cc"), ("carol@example.net", "bcc"))
    for raw in (
        mail.answer("Alice <alice@example.net>", MID),
        mail.answer("bob+home@EXAMPLE.net", MID),
        mail.answer("carol@example.net", MID),
        mail.answer("colleague@example.net", MID),  # forwarded to a colleague who answered
        mail.answer("alice@example.net", "<forged@helpdesk.example.com>"),  # names a message maild never sent
        mail.out_of_office("bob@example.net", MID),
    ):
        await append(dovecot, dovecot_user, raw)
    await set_flags(dovecot, dovecot_user, 2, r"(\Flagged)")
    await set_flags(dovecot, dovecot_user, 3, r"(\Seen $Label1)")
    before = await asyncio.to_thread(snapshot, dovecot, dovecot_user)
    source = make_source()
    async with running(source):
        await async_wait_for(lambda: source.counts.seen == 6, what="six messages looked at")
    assert sorted(replied(db)) == [("alice@example.net", "reply"), ("bob@example.net", "reply"),
                                   ("carol@example.net", "reply")]
    counts = source.counts
    assert (counts.replies, counts.third_party, counts.automatic, counts.not_ours) == (3, 1, 1, 1)
    after = await asyncio.to_thread(snapshot, dovecot, dovecot_user)
    assert after == before  # no \Seen from the header fetch, no moves, nothing expunged, nothing rewritten
    assert "\\Seen" not in before[1][1] and "\\Flagged" in before[1][2]
    info = queries.load_thread(db, "1234")
    assert info is not None
    reply = info.replies[0]
    assert reply.state == "read"
    assert [(r.address, r.read_via) for r in reply.recipients] == [
        ("alice@example.net", "reply"), ("bob@example.net", "reply"), ("carol@example.net", "reply")]
    assert [a.author for a in reply.third_party] == ["colleague@example.net"]


async def test_a_restart_in_the_middle_misses_nothing_and_doubles_nothing(db, dovecot, dovecot_user, make_source) -> None:
    people = [f"p{i}@example.net" for i in range(6)]
    send(db, *((p, "to") for p in people))
    for p in people[:4]:
        await append(dovecot, dovecot_user, mail.answer(p, MID))
    first = make_source(batch_size=1)
    async with running(first):
        await async_wait_for(lambda: first.counts.seen >= 2, what="two looked at")
    looked = first.counts.seen
    assert 2 <= looked < 6
    for p in people[4:]:  # arrive while maild is down
        await append(dovecot, dovecot_user, mail.answer(p, MID))
    second = make_source(batch_size=1)
    async with running(second):
        await async_wait_for(lambda: len(replied(db)) == 6, what="all six replies")
    assert sorted(a for a, _ in replied(db)) == people
    assert second.counts.seen == 6 - looked and second.counts.duplicates == 0  # nothing looked at twice
    assert db.execute("SELECT count(*) FROM inbound_replies").fetchone()[0] == 6
    assert db.execute("SELECT last_uid FROM inbound_state").fetchone()[0] == 6


async def test_a_new_answer_is_seen_while_idling(db, dovecot, dovecot_user, make_source) -> None:
    send(db, ("alice@example.net", "to"))
    source = make_source()
    async with running(source):
        await async_wait_for(lambda: source.stats.idles >= 1, what="IDLE")
        await append(dovecot, dovecot_user, mail.answer("alice@example.net", MID))
        await async_wait_for(lambda: replied(db) == [("alice@example.net", "reply")], what="the reply")
    assert source.stats.idle_exits.get("push", 0) + source.stats.idle_exits.get("pending", 0) >= 1
