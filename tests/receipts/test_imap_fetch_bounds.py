"""IMAP fetching, bounded and complete: a message FETCH leaves out is asked for again and never skipped while it is
still there; sizes come first, a message over the parser's limit is fetched only in part and held as too_large, and
one FETCH of bodies stays under the byte budget. The scripted fake server on 127.0.0.1; waits poll conditions."""

from __future__ import annotations

import dataclasses
import json

from maild.receipts.imap import load_state
from tests.receipts import mail
from tests.receipts.conftest import async_wait_for, event_kinds, send
from tests.receipts.fake_imap import FakeImap, _uid_set
from tests.receipts.test_imap_fake_server import running
from tests.receipts.test_imap_faults import make


def body_fetches(fake: FakeImap) -> list[tuple[set[int], str]]:
    """(UIDs, items) of every UID FETCH that asked for message bytes."""
    out = []
    for line in fake.lines:
        if line.startswith("UID FETCH") and "BODY" in line.upper():
            parts = line.split(" ", 3)
            out.append((_uid_set(parts[2]), parts[3]))
    return out


def last_uid(db, source) -> int | None:
    state = load_state(db, source.name)
    return state.last_uid if state else None


# ------------------------------------------------------------------ messages a FETCH answer leaves out


async def test_message_left_out_of_a_fetch_answer_is_asked_for_again(db, tmp_path, ingestor, store):
    sent = send(db, "alice@example.net", "bob@example.net", "carol@example.net")
    fake = await FakeImap({
        1: mail.dsn(sent.token("alice@example.net"), "alice@example.net"),
        2: mail.mdn(sent.token("bob@example.net"), "bob@example.net"),
        3: mail.mdn(sent.token("carol@example.net"), "carol@example.net"),
    }, omit_fetch={2: 1}).start()  # the first body FETCH answer has no UID 2
    source = make(fake, tmp_path, ingestor, store)
    async with running(fake, source):
        await async_wait_for(lambda: len(fake.moved) == 3, what="all three moved")
    assert fake.moved == {1: "processed", 2: "processed", 3: "processed"}
    assert sorted(event_kinds(db)) == ["bounced", "displayed", "displayed"]
    assert [uids for uids, _ in body_fetches(fake)] == [{1, 2, 3}, {2}]  # asked once more for exactly the missing one
    assert source.stats.fetch_missing == 0
    assert last_uid(db, source) == 3


async def test_message_fetch_never_returns_holds_last_uid_until_it_is_read(db, tmp_path, ingestor, store, capfd):
    sent = send(db, "alice@example.net", "bob@example.net", "carol@example.net")
    fake = await FakeImap({
        1: mail.dsn(sent.token("alice@example.net"), "alice@example.net"),
        2: mail.mdn(sent.token("bob@example.net"), "bob@example.net"),
        3: mail.mdn(sent.token("carol@example.net"), "carol@example.net"),
    }, omit_fetch={2: -1}).start()  # present, but no FETCH answer ever carries it
    source = make(fake, tmp_path, ingestor, store)
    async with running(fake, source):
        await async_wait_for(lambda: fake.moved == {1: "processed", 3: "processed"}, what="1 and 3 moved")
        await async_wait_for(lambda: source.stats.fetch_missing >= 2, what="missed again at a later poll")
        assert last_uid(db, source) == 1  # not past UID 2: it is still in the folder
        assert 2 not in fake.moved and sorted(event_kinds(db)) == ["bounced", "displayed"]
        fake.omit_fetch[2] = 0  # the server answers properly again
        await async_wait_for(lambda: 2 in fake.moved, what="UID 2 read at last")
        await async_wait_for(lambda: last_uid(db, source) == 3, what="last_uid past 3")
    assert fake.moved == {1: "processed", 2: "processed", 3: "processed"}
    assert sorted(event_kinds(db)) == ["bounced", "displayed", "displayed"]
    assert source.stats.failures == 0 and fake.connections == 1  # no reconnect, no backoff
    # UIDs 1 and 3, moved while last_uid waited below 2, are never fetched again
    assert sum(1 for uids, _ in body_fetches(fake) if uids & {1, 3}) == 1
    # missed at a poll: asked for once more, then left for the next poll (no tight loop)
    assert "UID SEARCH UID 2" in fake.lines
    missing = [json.loads(x) for x in capfd.readouterr().err.splitlines() if "imap_fetch_missing" in x]
    assert missing and missing[0]["uids"] == "2" and missing[0]["still_present"] == "2"


async def test_message_expunged_between_search_and_fetch_is_passed(db, tmp_path, ingestor, store):
    sent = send(db, "alice@example.net", "carol@example.net")
    fake = await FakeImap({
        1: mail.dsn(sent.token("alice@example.net"), "alice@example.net"),
        2: mail.spam(),
        3: mail.mdn(sent.token("carol@example.net"), "carol@example.net"),
    }).start()

    def someone_expunges_2(f: FakeImap, name: str, rest: str) -> None:
        if name == "UID FETCH" and "RFC822.SIZE" in rest and 2 not in f.expunged:
            f.expunged.append(2)  # another client removed it after maild's sizes FETCH

    fake.on_answer = someone_expunges_2
    source = make(fake, tmp_path, ingestor, store)
    async with running(fake, source):
        await async_wait_for(lambda: last_uid(db, source) == 3, what="last_uid past the vanished UID")
    assert fake.moved == {1: "processed", 3: "processed"}
    assert source.stats.fetch_missing == 1
    assert sorted(event_kinds(db)) == ["bounced", "displayed"]


# ------------------------------------------------------------------ size bounds


async def test_message_over_the_parser_limit_is_fetched_in_part_and_held_too_large(db, tmp_path, ingestor, store):
    sent = send(db, "alice@example.net", "bob@example.net")
    ingestor.hints = dataclasses.replace(ingestor.hints, max_bytes=8000)  # the parser's limit, 10 MiB by default
    big = mail.dsn(sent.token("bob@example.net"), "bob@example.net") + b"x" * 76 * 300 + b"\r\n"
    fake = await FakeImap({
        1: mail.dsn(sent.token("alice@example.net"), "alice@example.net"),
        2: big,
        3: mail.mdn(sent.token("alice@example.net"), "alice@example.net"),
    }).start()
    source = make(fake, tmp_path, ingestor, store, quarantine_max_bytes="1k")
    async with running(fake, source):
        await async_wait_for(lambda: len(fake.moved) == 3, what="all three moved")
    assert fake.moved == {1: "processed", 2: "quarantine", 3: "processed"}
    fetched = body_fetches(fake)
    assert (({2}, "(BODY.PEEK[]<0.1024>)")) in fetched
    assert not any(2 in uids and items == "(BODY.PEEK[])" for uids, items in fetched)  # never the whole of it
    reason, size, kept, truncated, raw, detail = db.execute(
        "SELECT reason, size, length(raw), truncated, raw, detail FROM quarantine").fetchone()
    assert (reason, size, kept, truncated) == ("too_large", len(big), 1024, 1)
    assert raw == big[:1024]
    assert json.loads(detail) == {"size": len(big), "limit": 8000}
    assert sorted(event_kinds(db)) == ["bounced", "displayed"]  # nothing from the big one
    assert source.stats.too_large == 1 and ingestor.stats.quarantined == {"too_large": 1}
    assert db.execute("SELECT kind, outcome FROM reports WHERE quarantine IS NOT NULL").fetchall() == [
        ("too_large", "quarantined")]


async def test_bodies_are_fetched_in_batches_under_the_byte_budget(db, tmp_path, ingestor, store):
    sent = send(db, *(f"r{i}@example.net" for i in range(6)))
    messages = {i + 1: mail.mdn(sent.token(f"r{i}@example.net"), f"r{i}@example.net") for i in range(6)}
    size = max(map(len, messages.values()))
    fake = await FakeImap(messages).start()
    source = make(fake, tmp_path, ingestor, store)
    source.fetch_budget = 2 * size + 10  # two messages per FETCH
    async with running(fake, source):
        await async_wait_for(lambda: len(fake.moved) == 6, what="all moved")
    fetched = body_fetches(fake)
    assert [uids for uids, _ in fetched] == [{1, 2}, {3, 4}, {5, 6}]
    assert all(sum(len(messages[u]) for u in uids) <= source.fetch_budget for uids, _ in fetched)
    assert any("RFC822.SIZE" in x for x in fake.lines)
    assert event_kinds(db) == ["displayed"] * 6


async def test_a_message_missing_in_an_earlier_batch_holds_last_uid_through_later_batches(db, tmp_path, ingestor, store):
    sent = send(db, "alice@example.net", "bob@example.net", "carol@example.net")
    fake = await FakeImap({
        1: mail.mdn(sent.token("alice@example.net"), "alice@example.net"),
        2: mail.mdn(sent.token("bob@example.net"), "bob@example.net"),
        3: mail.mdn(sent.token("carol@example.net"), "carol@example.net"),
    }, omit_fetch={1: -1}).start()
    source = make(fake, tmp_path, ingestor, store, batch_size=1)  # UID 1 alone in the first batch
    async with running(fake, source):
        await async_wait_for(lambda: fake.moved == {2: "processed", 3: "processed"}, what="2 and 3 moved")
        assert last_uid(db, source) == 0
        fake.omit_fetch[1] = 0
        await async_wait_for(lambda: last_uid(db, source) == 3, what="last_uid past 3 once UID 1 is read")
    assert fake.moved == {1: "processed", 2: "processed", 3: "processed"}
    assert event_kinds(db) == ["displayed"] * 3
