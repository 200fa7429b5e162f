"""The panel's reads on a real SQLite store: search through indexes, keyset pages of a ticket's replies, switch records."""

from __future__ import annotations

import pytest

from maild import departments, queries
from maild.store import index_subjects, indexed_upto
from maild.store.db import open_db
from tests.support.builders import Builder, at


@pytest.fixture
def store(tmp_path):
    b = Builder(tmp_path / "maild.db")
    yield b
    b.close()


def _ids(page: queries.ReplyPage) -> list[str | None]:
    return [r.reply.message_id for r in page.rows]


def test_search_finds_a_ticket_exactly_not_by_a_part_of_its_number(store):
    a = store.reply("123", [("a@example.net", "to")], subject="Hello")
    store.reply("1234", [("b@example.net", "to")], subject="Hello")
    assert _ids(queries.list_replies(store.db, search="123")) == [a.message_id]
    assert _ids(queries.list_replies(store.db, search=" 123 ")) == [a.message_id]


def test_search_finds_a_department_by_name_in_any_case(store):
    s = store.reply("1", [("a@example.net", "to")], department="Sales")
    store.reply("2", [("b@example.net", "to")], department="Salesforce")
    assert _ids(queries.list_replies(store.db, search="sALES")) == [s.message_id]


def test_search_finds_an_address_exactly_or_by_its_beginning_in_any_case(store):
    a = store.reply("1", [("Alice.Smith@example.net", "to"), ("x@example.net", "cc")], subject="One")
    b = store.reply("2", [("alice.jones@example.org", "bcc")], subject="Two")
    store.reply("3", [("malice@example.net", "to")], subject="Three")
    assert _ids(queries.list_replies(store.db, search="alice.smith@EXAMPLE.NET")) == [a.message_id]
    assert _ids(queries.list_replies(store.db, search="ALICE")) == [b.message_id, a.message_id]  # not "malice"


def test_search_finds_a_part_of_a_subject_in_any_case(store):
    a = store.reply("1", [("a@example.net", "to")], subject="Your INVOICE for March")
    store.reply("2", [("b@example.net", "to")], subject="Shipping")
    assert _ids(queries.list_replies(store.db, search="invoice for")) == [a.message_id]
    assert _ids(queries.list_replies(store.db, search='"invoice')) == []  # a quote is text, not query syntax


def test_wildcards_and_query_syntax_are_literal(store):
    store.reply("1", [("a_b@example.net", "to")], subject="100% done")
    store.reply("2", [("axb@example.net", "to")], subject="100 percent done")
    assert len(queries.list_replies(store.db, search="a_b").rows) == 1
    assert len(queries.list_replies(store.db, search="0% d").rows) == 1
    for term in ("%", "_", "*", "NEAR(a b)", "x OR y", '"'):
        assert queries.list_replies(store.db, search=term).rows == (), term


def test_search_pages_newest_first_with_a_cursor(store):
    made = [store.reply(str(100 + i), [(f"u{i}@example.net", "to")], subject=f"Paging {i}") for i in range(7)]
    first = queries.list_replies(store.db, search="paging", limit=3)
    assert _ids(first) == [m.message_id for m in made[:-4:-1]] and first.more
    second = queries.list_replies(store.db, search="paging", before=first.rows[-1].id, limit=3)
    third = queries.list_replies(store.db, search="paging", before=second.rows[-1].id, limit=3)
    assert _ids(first) + _ids(second) + _ids(third) == [m.message_id for m in reversed(made)]
    assert not third.more


def test_untracked_mail_is_never_listed_nor_found(store):
    store.reply("5", [("a@example.net", "to")], subject="Visible")
    hidden = store.reply("5", [("a@example.net", "to")], subject="Visible too")
    store.db.execute("UPDATE messages SET tracked = 0 WHERE id = ?", (hidden.message,))
    store.db.conn.commit()
    for term in ("", "5", "Billing", "a@example.net", "Visible"):
        assert hidden.message_id not in _ids(queries.list_replies(store.db, search=term)), term


def _indexed(db) -> list[int]:
    return [r[0] for r in db.execute("SELECT rowid FROM message_subjects WHERE message_subjects MATCH '\"words\"'")]


@pytest.mark.parametrize("indexed", [False, True], ids=["before the catch-up", "after it"])
def test_a_subject_is_found_before_and_after_the_index_catches_up(store, indexed):
    a = store.reply("1", [("a@example.net", "to")], subject="Some Words here")
    if indexed:
        assert store.write(index_subjects) == 1 and indexed_upto(store.db) == a.message
        assert store.write(index_subjects) == 0  # nothing left: a look, no write
    assert _indexed(store.db) == ([a.message] if indexed else [])  # intake itself writes no index entry
    assert _ids(queries.list_replies(store.db, search="some words")) == [a.message_id]


def test_the_catch_up_goes_in_batches_and_skips_messages_without_a_subject(store):
    made = [store.reply(str(i), [("a@example.net", "to")], subject=f"Batch words {i}") for i in range(5)]
    store.write(lambda db: db.execute("UPDATE messages SET subject = NULL WHERE id = ?", (made[1].message,)))
    assert store.write(lambda db: index_subjects(db, limit=3)) == 3
    assert store.write(lambda db: index_subjects(db, limit=3)) == 2
    assert sorted(_indexed(store.db)) == [m.message for i, m in enumerate(made) if i != 1]
    found = _ids(queries.list_replies(store.db, search="batch words"))
    assert found == [m.message_id for i, m in reversed(list(enumerate(made))) if i != 1]


def test_the_subject_index_follows_a_changed_or_removed_subject(store):
    a = store.reply("1", [("a@example.net", "to")], subject="Old words")
    b = store.reply("2", [("b@example.net", "to")], subject="Gone words")
    store.write(index_subjects)
    store.write(lambda db: db.execute("UPDATE messages SET subject = 'New words' WHERE id = ?", (a.message,)))
    store.write(lambda db: db.execute("UPDATE messages SET subject = NULL WHERE id = ?", (b.message,)))
    assert _ids(queries.list_replies(store.db, search="old words")) == []
    assert _ids(queries.list_replies(store.db, search="gone words")) == []
    assert _ids(queries.list_replies(store.db, search="new words")) == [a.message_id]
    assert store.db.execute("INSERT INTO message_subjects (message_subjects) VALUES ('integrity-check')") is not None


def test_a_ticket_reads_in_pages_that_join_up_to_the_whole_thread(store):
    made = [store.reply("42", [(f"r{i}@example.net", "to")], minutes=i, subject=f"Reply {i}") for i in range(5)]
    whole = queries.load_thread(store.db, "42")
    assert whole is not None and [r.message_id for r in whole.replies] == [m.message_id for m in made]
    seen, after, pages = [], 0, 0
    while True:
        page = queries.load_thread_page(store.db, "42", after=after, limit=2)
        assert page is not None
        seen += page.info.replies
        pages += 1
        if page.next_after is None:
            break
        after = page.next_after
    assert pages == 3 and tuple(seen) == whole.replies


def test_a_cursor_past_the_end_is_an_empty_page_and_an_unknown_ticket_is_none(store):
    store.reply("42", [("a@example.net", "to")])
    page = queries.load_thread_page(store.db, "42", limit=1)
    assert page is not None and page.next_after is None and len(page.info.replies) == 1
    past = queries.load_thread_page(store.db, "42", after=page.message_ids[-1])
    assert past is not None and past.info.replies == () and past.next_after is None
    assert queries.load_thread_page(store.db, "43") is None
    assert queries.load_thread_page(store.db, "43", after=5) is None


def test_timelines_of_a_page_hold_only_its_replies(store):
    a = store.reply("42", [("a@example.net", "to")])
    b = store.reply("42", [("b@example.net", "to")])
    store.event(a, "a@example.net", "accepted", 1)
    store.event(b, "b@example.net", "accepted", 2)
    page = queries.load_thread_page(store.db, "42", limit=1)
    assert page is not None
    lines = queries.thread_timelines(store.db, "42", page.message_ids)
    assert list(lines) == [(a.message_id, "a@example.net")]
    assert queries.thread_timelines(store.db, "42", ()) == {}


def test_a_department_switch_is_recorded_with_who_when_and_from_where(store):
    store.reply("1", [("a@example.net", "to")], department="Billing")
    store.write(lambda db: departments.set_receipts(db, "Legal", False, at(1), by="alice", via="web"))
    store.write(lambda db: departments.set_receipts(db, "legal ", True, at(2), by="api token", via="api"))
    store.write(lambda db: departments.set_receipts(db, "Sales", False, at(3)))
    last = departments.last_switches(store.db)
    assert last["legal"] == departments.Switch("legal", True, "2026-03-01T09:02:00.000Z", "api token", "api")
    assert last["sales"].by is None and last["sales"].via == "cli" and not last["sales"].receipts_enabled
    history = departments.switch_history(store.db, "LEGAL")
    assert [(s.receipts_enabled, s.by) for s in history] == [(True, "api token"), (False, "alice")]
    rows = {r.name: r for r in queries.department_overview(store.db)}
    assert rows["Legal"].last_switch == last["legal"] and rows["Billing"].last_switch is None


def test_the_migration_indexes_subjects_already_stored(tmp_path):
    """Migration 8 on a store written before it: the old subjects are found through the new index."""
    from maild.store import schema
    from maild.store.db import connect, migrate

    db = connect(tmp_path / "old.db")
    for version, step in enumerate(schema.MIGRATIONS[:7], start=1):
        step(db)
        db.execute(f"PRAGMA user_version = {version}")
    db.execute(
        "INSERT INTO messages (queue_id, sender, received_at, headers, subject, ticket, tracked)"
        " VALUES ('Q1', 's@x', '2026-01-01T00:00:00.000Z', x'00', 'Stored before the index', '9', 1)"
    )
    db.conn.commit()
    migrate(db)
    page = queries.list_replies(db, search="before the")
    assert [r.ticket for r in page.rows] == ["9"]
    db.conn.close()
    again = open_db(tmp_path / "old.db")  # opening again runs nothing twice
    assert again.execute("SELECT count(*) FROM message_subjects WHERE message_subjects MATCH '\"stored\"'").fetchone() == (1,)
    again.conn.close()
