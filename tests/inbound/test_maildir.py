"""The Maildir inbound source: answers recorded, the Maildir never written, restarts, and new files noticed by the watch.

How soon the watch wakes a source is a speed (bench/, never a timed test); what is tested is that it does: each wait
for a newcomer ends long before the 60 s rescan that would find it without the watch (30 s: a loaded machine's
slowest scan, never the rescan).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from pathlib import Path

import pytest

from maild import config, fswatch
from maild.inbound.maildir import InboundMaildirSource
from tests.inbound import mail
from tests.inbound.conftest import replied, send
from tests.receipts.conftest import async_wait_for

MID = "<m1@helpdesk.example.com>"
WOKEN = 30.0  # half the 60 s rescan: a file found within this was found because something woke the source


def deliver(root: Path, raw: bytes, *, folder: str = "new", flags: str = "") -> Path:
    """Write a message the way a delivery agent does: into tmp/, then renamed into new/ (or cur/ with flags)."""
    name = f"1764590000.M{secrets.randbelow(10**6)}P{os.getpid()}.client"
    tmp = root / "tmp" / name
    tmp.write_bytes(raw)
    target = root / folder / (name + (f":2,{flags}" if folder == "cur" else ""))
    os.rename(tmp, target)
    return target


def tree(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under the Maildir with its bytes and mtime: what 'never written' is checked against."""
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def maildir(tmp_path: Path) -> Path:
    root = tmp_path / "support"
    for sub in ("new", "cur", "tmp"):
        (root / sub).mkdir(parents=True)
    return root


@pytest.fixture
def make_source(store, tmp_path, maildir):
    def make(**extra: object) -> InboundMaildirSource:
        settings = config.parse({"inbound": [{"url": f"maildir:{maildir}", **extra}]}, tmp_path / "maild.toml").inbound[0]
        return InboundMaildirSource(settings, store)

    return make


@contextlib.asynccontextmanager
async def running(source: InboundMaildirSource):
    task = asyncio.create_task(source.run())
    try:
        await async_wait_for(lambda: source.connected or task.done(), what="source ready")
        if task.done():
            task.result()
        yield task
    finally:
        await source.stop()
        await asyncio.wait_for(task, 10)


async def test_answers_in_new_and_cur_are_recorded_and_nothing_is_written(db, maildir, make_source) -> None:
    send(db, ("alice@example.net", "to"), ("bob@example.net", "cc"))
    deliver(maildir, mail.answer("alice@example.net", MID))
    deliver(maildir, mail.answer("bob@example.net", MID), folder="cur", flags="S")
    deliver(maildir, mail.answer("colleague@example.net", MID))
    deliver(maildir, mail.out_of_office("alice@example.net", MID))
    (maildir / "cur" / "broken:2,").write_bytes(b"\xff\x00 not a message at all")
    before = tree(maildir)
    source = make_source()
    async with running(source):
        await async_wait_for(lambda: source.counts.seen == 5, what="five files looked at")
    assert sorted(replied(db)) == [("alice@example.net", "reply"), ("bob@example.net", "reply")]
    assert (source.counts.third_party, source.counts.automatic, source.counts.not_ours) == (1, 1, 1)
    assert tree(maildir) == before  # no file moved, renamed, flagged or touched


async def test_a_restart_misses_nothing_and_a_client_moving_files_to_cur_doubles_nothing(db, maildir, make_source) -> None:
    people = [f"p{i}@example.net" for i in range(4)]
    send(db, *((p, "to") for p in people))
    seen_files = [deliver(maildir, mail.answer(p, MID)) for p in people[:2]]
    first = make_source()
    async with running(first):
        await async_wait_for(lambda: first.counts.seen == 2, what="two looked at")
    for path in seen_files:  # the helpdesk's client reads them meanwhile: new/NAME -> cur/NAME:2,S
        os.rename(path, maildir / "cur" / (path.name + ":2,S"))
    for p in people[2:]:
        deliver(maildir, mail.answer(p, MID))
    second = make_source()
    async with running(second):
        await async_wait_for(lambda: len(replied(db)) == 4, what="four replies")
    assert sorted(a for a, _ in replied(db)) == people
    assert (second.counts.seen, second.counts.duplicates) == (2, 0)


async def test_a_missing_maildir_is_a_clear_error_and_never_created(tmp_path, store) -> None:
    root = tmp_path / "absent"
    settings = config.parse({"inbound": [{"url": f"maildir:{root}"}]}, tmp_path / "maild.toml").inbound[0]
    source = InboundMaildirSource(settings, store)
    with pytest.raises(FileNotFoundError, match="maild never creates one in an inbound Maildir"):
        await source._prepare()
    assert not source.connected and not root.exists()


async def test_a_new_file_is_noticed_by_inotify_long_before_the_rescan(db, maildir, make_source) -> None:
    send(db, ("alice@example.net", "to"))
    source = make_source()
    async with running(source):
        assert source.watch_mode == "inotify"
        await async_wait_for(lambda: source.scans >= 1, what="the first scan")  # from here only the watch wakes it
        deliver(maildir, mail.answer("alice@example.net", MID))
        await async_wait_for(lambda: replied(db), timeout=WOKEN, what="the reply, woken by inotify (not the 60 s rescan)")


async def test_without_inotify_a_short_poll_notices_new_files(db, maildir, make_source, monkeypatch) -> None:
    monkeypatch.setattr(fswatch, "_libc", lambda: None)
    send(db, ("alice@example.net", "to"))
    source = make_source(poll_interval="0.5s")
    async with running(source):
        assert source.watch_mode == "poll"
        await async_wait_for(lambda: source.scans >= 1, what="the first scan")
        deliver(maildir, mail.answer("alice@example.net", MID))
        await async_wait_for(lambda: replied(db), timeout=WOKEN, what="the reply after a 0.5 s poll (not the 60 s rescan)")


async def test_a_receipts_maildir_notices_a_new_receipt_by_inotify_long_before_its_scan(tmp_path, db, store) -> None:
    """[[receipts]] Maildirs share the watch: with the default 60 s scan a newcomer's MDN shows up at once."""
    from maild.receipts.ingest import Ingestor
    from maild.receipts.maildir import MaildirSource
    from tests.receipts import mail as reports
    from tests.receipts.conftest import KEYS, event_kinds, write_config
    from tests.receipts.conftest import send as send_one

    cfg = write_config(tmp_path, tmp_path / "maild.db", receipts='[[receipts]]\nurl = "maildir:receipts"\n')
    settings = config.load(cfg)
    assert settings.receipts[0].poll_interval == 60
    source = MaildirSource(settings.receipts[0], Ingestor(settings, store, KEYS), store)
    sent = send_one(db, "alice@example.net")
    scans = []  # scans over: from the first one on only the watch (or the 60 s scan) can find a newcomer
    real_scan = source.scan_once

    async def scan_once() -> int:
        found = await real_scan()
        scans.append(found)
        return found

    source.scan_once = scan_once  # type: ignore[method-assign]
    task = asyncio.create_task(source.run())
    try:
        await async_wait_for(lambda: source.connected and scans, what="ready, the first scan over")
        assert source.watch.mode == "inotify"
        deliver(tmp_path / "receipts", reports.mdn(sent.token("alice@example.net"), "alice@example.net"))
        await async_wait_for(lambda: event_kinds(db) == ["displayed"], timeout=WOKEN,
                             what="the MDN, woken by inotify (not the 60 s scan)")
    finally:
        await source.stop()
        await asyncio.wait_for(task, 10)
