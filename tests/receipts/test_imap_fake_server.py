"""IMAP source against the scripted fake server: MOVE fallback, IDLE renewal and pushes, mail in the gap before IDLE,
a half-open connection during IDLE, and quarantine_max_bytes over IMAP. Real sockets on 127.0.0.1; no timers used to
synchronise (every wait polls a condition with a deadline)."""

from __future__ import annotations

import asyncio
import contextlib
import time

from maild.receipts.imap import FolderState, ImapSource, save_state
from tests.receipts import mail
from tests.receipts.conftest import T0, async_wait_for, event_kinds, send
from tests.receipts.fake_imap import FakeImap, _uid_set
from tests.receipts.test_imap_faults import make

DELETED = "\\Deleted"


@contextlib.asynccontextmanager
async def running(fake: FakeImap, source: ImapSource, *, close: bool = True):
    task = asyncio.create_task(source.run())
    try:
        await async_wait_for(lambda: source.connected or task.done(), what="IMAP session ready")
        if task.done():
            task.result()
        yield task
    finally:
        await source.stop()
        await asyncio.wait_for(task, 10)
        if close:
            await fake.close()


# ------------------------------------------------------------------ MOVE fallback


async def test_without_move_copies_flags_and_uid_expunges_only_what_it_processed(db, tmp_path, ingestor, store):
    sent = send(db, "alice@example.net", "bob@example.net")
    fake = await FakeImap({1: mail.dsn(sent.token("alice@example.net"), "alice@example.net"), 2: mail.spam()},
                          capabilities="IMAP4rev1 UIDPLUS").start()
    at_first_expunge: dict[str, object] = {}

    def race(f: FakeImap, name: str, rest: str) -> None:
        if name == "UID STORE" and 3 not in f.messages:
            # someone else's client appends a message and flags it \Deleted between maild's FETCH and its EXPUNGE
            f.arrive(mail.mdn(sent.token("bob@example.net"), "bob@example.net"), notify="never", flags={DELETED})
        if name == "UID EXPUNGE" and not at_first_expunge:
            at_first_expunge.update(line=rest, present=f._present(), expunged=list(f.expunged))

    fake.on_answer = race
    source = make(fake, tmp_path, ingestor, store)
    async with running(fake, source):
        await async_wait_for(lambda: fake.moved == {1: "processed", 2: "quarantine", 3: "processed"}, what="all moved")
    assert "UID MOVE" not in fake.commands and "EXPUNGE" not in fake.commands  # never a plain EXPUNGE
    # the first UID EXPUNGE named only UID 1; UID 3 (flagged by someone else, not yet read by maild) survived it
    assert at_first_expunge["line"] == "UID EXPUNGE 1"
    assert at_first_expunge["expunged"] == [1] and 3 in at_first_expunge["present"]
    # every UID expunged had been fetched (processed) by maild before the command naming it
    def named(verb: str, lines: list[str]) -> set[int]:
        return {u for x in lines if x.startswith(verb) for u in _uid_set(x.split()[2])}

    for i, line in enumerate(fake.lines):
        if line.startswith("UID EXPUNGE"):
            uids = _uid_set(line.split()[2])
            assert uids <= named("UID FETCH", fake.lines[:i]) & named("UID COPY", fake.lines[:i]), line
    assert sorted(event_kinds(db)) == ["bounced", "displayed"]
    assert db.execute("SELECT count(*) FROM quarantine").fetchone()[0] == 1


async def test_without_move_or_uidplus_copies_and_flags_but_never_expunges(db, tmp_path, ingestor, store):
    sent = send(db, "alice@example.net")
    big_spam = mail.spam() + b"x" * 5000 + b"\r\n"
    fake = await FakeImap(
        {1: mail.dsn(sent.token("alice@example.net"), "alice@example.net"), 2: big_spam},
        capabilities="IMAP4rev1", flags={2: {DELETED}},  # 2: flagged \Deleted by someone else already
    ).start()
    source = make(fake, tmp_path, ingestor, store, quarantine_max_bytes="1k")
    async with running(fake, source, close=False):
        await async_wait_for(lambda: fake.copied == {1: "processed", 2: "quarantine"}, what="copied")
        await async_wait_for(lambda: all(DELETED in fake.flags.get(u, ()) for u in (1, 2)), what="flagged")
        await async_wait_for(lambda: source.stats.failures == 0 and fake.commands.count("UID SEARCH") >= 3,
                             what="a later poll")
    assert "EXPUNGE" not in fake.commands and "UID EXPUNGE" not in fake.commands
    assert fake.expunged == [] and fake.moved == {}
    assert event_kinds(db) == ["bounced"]
    # IMAP passes quarantine_max_bytes through: the big spam is kept cut to 1 KiB, with its full size
    size, kept, truncated = db.execute("SELECT size, length(raw), truncated FROM quarantine").fetchone()
    assert (size, kept, truncated) == (len(big_spam), 1024, 1)

    # a restart does not fetch or copy the flagged originals again: last_uid is past them
    fetches = fake.commands.count("UID FETCH")
    again = make(fake, tmp_path, ingestor, store)
    async with running(fake, again):
        searches = fake.commands.count("UID SEARCH")
        await async_wait_for(lambda: fake.commands.count("UID SEARCH") >= searches + 2, what="two polls")
    assert fake.commands.count("UID FETCH") == fetches
    assert fake.commands.count("UID COPY") == 2
    assert event_kinds(db) == ["bounced"]


# ------------------------------------------------------------------ IDLE


IDLE_CAPS = "IMAP4rev1 UIDPLUS MOVE IDLE"


async def test_idle_is_reissued_at_idle_renew_on_the_same_connection(db, tmp_path, ingestor, store):
    fake = await FakeImap({}, capabilities=IDLE_CAPS).start()
    source = make(fake, tmp_path, ingestor, store, idle_renew="0.1s", idle_keepalive="60s")
    async with running(fake, source):
        await async_wait_for(lambda: fake.idles >= 4, what="four IDLEs")
    assert fake.connections == 1 and source.stats.sessions == 1 and source.stats.failures == 0
    assert fake.commands.count("DONE") >= 3
    assert source.stats.idle_exits.get("renew", 0) >= 3 and "keepalive" not in source.stats.idle_exits


async def test_exists_pushed_during_idle_is_fetched_at_once(db, tmp_path, ingestor, store):
    sent = send(db, "alice@example.net")
    fake = await FakeImap({}, capabilities=IDLE_CAPS).start()
    source = make(fake, tmp_path, ingestor, store, idle_renew="60s", idle_keepalive="60s")
    async with running(fake, source):
        await async_wait_for(lambda: fake.idling, what="idling")
        started = time.monotonic()
        fake.arrive(mail.mdn(sent.token("alice@example.net"), "alice@example.net"))  # * 1 EXISTS to the idler
        await async_wait_for(lambda: fake.moved == {1: "processed"}, timeout=20, what="moved after the push")
        elapsed = time.monotonic() - started
        await async_wait_for(lambda: fake.idling, what="idling again")
        exits = dict(source.stats.idle_exits)  # before stop() adds its own exit
    assert elapsed < 20, elapsed  # at once: well before the 60 s keepalive that would find it otherwise
    # The fake announces the mail as soon as it has read IDLE; when that lands before maild has read the server's
    # "+ idling", maild knows of it already and leaves IDLE as "pending" instead of "push". Both leave at once (the
    # elapsed bound above); neither is the keepalive or a renewal.
    assert exits in ({"push": 1}, {"pending": 1}) and fake.idles == 2, exits
    assert event_kinds(db) == ["displayed"]


async def test_mail_announced_in_the_gap_before_idle_is_fetched_without_waiting(db, tmp_path, ingestor, store):
    """The EXISTS comes unsolicited right after the empty UID SEARCH (aioimaplib drops it: no command is waiting),
    and the server, having told this connection, says nothing more at IDLE: maild must leave IDLE at once."""
    sent = send(db, "alice@example.net")
    fake = await FakeImap({}, capabilities=IDLE_CAPS).start()
    arrived: list[float] = []

    def in_the_gap(f: FakeImap, name: str, rest: str) -> None:
        if name == "UID SEARCH" and not arrived:
            arrived.append(time.monotonic())
            f.arrive(mail.mdn(sent.token("alice@example.net"), "alice@example.net"), notify="now")

    fake.on_answer = in_the_gap
    source = make(fake, tmp_path, ingestor, store, idle_renew="60s", idle_keepalive="60s")
    async with running(fake, source):
        await async_wait_for(lambda: fake.moved == {1: "processed"}, timeout=20, what="moved")
        elapsed = time.monotonic() - arrived[0]
        await async_wait_for(lambda: fake.idling, what="idling again")
        exits = dict(source.stats.idle_exits)  # before stop() adds its own exit
    assert elapsed < 20, elapsed  # at once: well before the 60 s keepalive that would find it otherwise
    assert exits == {"pending": 1}
    assert fake.idles == 2 and fake.connections == 1  # left the first IDLE at once, no reconnect
    assert event_kinds(db) == ["displayed"]


async def test_half_open_connection_during_idle_is_replaced_within_keepalive_plus_timeout(db, tmp_path, ingestor, store):
    sent = send(db, "alice@example.net")
    fake = await FakeImap({}, capabilities=IDLE_CAPS).start()
    keepalive, timeout = 0.3, 5.0
    source = make(fake, tmp_path, ingestor, store, idle_renew="60s", idle_keepalive=f"{keepalive}s",
                  command_timeout=f"{timeout}s")
    async with running(fake, source):
        await async_wait_for(lambda: fake.idling, what="idling")
        fake.freeze()  # the socket stays open, nothing is ever answered again (not even DONE or LOGOUT)
        started = time.monotonic()
        await async_wait_for(lambda: source.stats.sessions >= 2, timeout=10, what="a new session")
        elapsed = time.monotonic() - started
        assert "timed out" in (source.stats.last_error or "")
        fake.arrive(mail.mdn(sent.token("alice@example.net"), "alice@example.net"))
        await async_wait_for(lambda: fake.moved == {1: "processed"}, what="picked up on the new connection")
    # keepalive + the DONE timeout + at most 0.5 s first backoff; waiting out a LOGOUT on the dead peer as well would
    # take a second timeout. The margins (4.5 s either way) are for a loaded 2-core machine.
    assert keepalive + timeout * 0.9 <= elapsed < keepalive + 2 * timeout, elapsed
    assert fake.connections == 2
    assert event_kinds(db) == ["displayed"]


async def test_mail_the_server_never_announces_is_found_by_the_next_keepalive_search(db, tmp_path, ingestor, store):
    sent = send(db, "alice@example.net")
    fake = await FakeImap({}, capabilities=IDLE_CAPS).start()
    source = make(fake, tmp_path, ingestor, store, idle_renew="60s", idle_keepalive="0.2s")
    async with running(fake, source):
        await async_wait_for(lambda: fake.idling, what="idling")
        fake.arrive(mail.mdn(sent.token("alice@example.net"), "alice@example.net"), notify="never")
        # within half the 60 s idle_renew: only a keepalive search (every 0.2 s) can have found it
        await async_wait_for(lambda: fake.moved == {1: "processed"}, timeout=30, what="found by a keepalive search")
        exits = dict(source.stats.idle_exits)
    assert "push" not in exits and "pending" not in exits and exits.get("keepalive", 0) >= 1
    assert fake.connections == 1


async def test_keepalive_while_healthy_keeps_the_session(db, tmp_path, ingestor, store):
    fake = await FakeImap({}, capabilities=IDLE_CAPS).start()
    source = make(fake, tmp_path, ingestor, store, idle_renew="60s", idle_keepalive="0.05s")
    async with running(fake, source):
        await async_wait_for(lambda: source.stats.idle_exits.get("keepalive", 0) >= 3, what="three keepalives")
    assert fake.connections == 1 and source.stats.failures == 0 and "renew" not in source.stats.idle_exits


# ------------------------------------------------------------------ UIDVALIDITY


async def test_changed_uidvalidity_rescans_below_the_old_last_uid(db, tmp_path, ingestor, store):
    sent = send(db, "alice@example.net")
    fake = await FakeImap({1: mail.dsn(sent.token("alice@example.net"), "alice@example.net")}).start()
    source = make(fake, tmp_path, ingestor, store)
    await store.write(lambda d: save_state(d, source.name, FolderState(6, 50), T0))  # an older folder, UIDs up to 50
    async with running(fake, source):
        await async_wait_for(lambda: fake.moved == {1: "processed"}, what="UID 1 fetched despite last_uid 50")
    assert event_kinds(db) == ["bounced"]


def test_aioimaplib_still_has_the_private_hooks_maild_overrides():
    """maild.receipts.imap subclasses aioimaplib internals; an upgrade that renames them must fail here, not silently."""
    import inspect

    import aioimaplib

    assert callable(getattr(aioimaplib.IMAP4ClientProtocol, "_handle_line", None))
    assert list(inspect.signature(aioimaplib.IMAP4ClientProtocol._handle_line).parameters) == ["self", "line", "current_cmd"]
    assert callable(getattr(aioimaplib.IMAP4, "create_client", None))
    assert "_client_task" in inspect.getsource(aioimaplib.IMAP4.create_client)
