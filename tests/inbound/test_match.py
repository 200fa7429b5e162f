"""Inbound matching: who answered which reply, what counts as read, and what is never a reply."""

from __future__ import annotations

from datetime import timedelta

from maild import queries
from maild.inbound.headers import read_headers
from maild.inbound.match import Verdict, record_answer
from maild.store import transaction
from tests.inbound import mail
from tests.inbound.conftest import T0, replied, send

NOW = T0 + timedelta(hours=1)
MID = "<m1@helpdesk.example.com>"


def record(db, raw: bytes, *, ref: str = "1:1"):
    h = read_headers(raw)
    return transaction(db, lambda d: record_answer(d, h, source="inbound test", via="imap", ref=ref, now=NOW))


def recipient(db, ticket: str, address: str):
    info = queries.load_thread(db, ticket)
    assert info is not None
    return next(r for reply in info.replies for r in reply.recipients if r.address == address)


def test_an_answer_from_a_to_recipient_makes_it_read_via_reply(db) -> None:
    send(db, ("alice@example.net", "to"), ("bob@example.net", "cc"))
    out = record(db, mail.answer("Alice <alice@example.net>", MID))
    assert (out.decision.verdict, out.events, out.decision.matched_by) == (Verdict.REPLY, 1, "from")
    assert replied(db) == [("alice@example.net", "reply")]
    assert db.execute("SELECT via FROM events WHERE kind = 'replied'").fetchall() == [("imap",)]  # how it came
    alice = recipient(db, "1234", "alice@example.net")
    assert (alice.state, alice.read_via, alice.read_at) == ("read", "reply", "2026-03-01T12:30:00.000Z")
    assert [(e.signal, e.counted, e.text, e.author) for e in alice.evidence] == [
        ("reply", True, "replied 12:30", "alice@example.net")]
    assert recipient(db, "1234", "bob@example.net").state == "queued"


def test_cc_and_bcc_recipients_count_alike(db) -> None:
    send(db, ("alice@example.net", "to"), ("bob@example.net", "cc"), ("carol@example.net", "bcc"))
    record(db, mail.answer("bob@example.net", MID))
    record(db, mail.answer("carol@example.net", MID))
    assert sorted(replied(db)) == [("bob@example.net", "reply"), ("carol@example.net", "reply")]
    info = queries.load_thread(db, "1234")
    assert info is not None and info.replies[0].state == "read_by_cc"


def test_case_and_plus_tags_are_tolerated_both_ways(db) -> None:
    send(db, ("Alice.Smith+billing@Example.NET", "to"), ("bob@example.net", "to"))
    record(db, mail.answer("alice.smith@example.net", MID))
    record(db, mail.answer("BOB+work@EXAMPLE.net", MID))
    assert sorted(a for a, _ in replied(db)) == ["Alice.Smith+billing@Example.NET", "bob@example.net"]


def test_sender_or_reply_to_name_the_recipient_when_from_does_not(db) -> None:
    send(db, ("alice@example.net", "to"), ("bob@example.net", "to"))
    out = record(db, mail.answer("Assistant <pa@example.net>", MID, sender="alice@example.net"))
    assert (out.decision.verdict, out.decision.matched_by) == (Verdict.REPLY, "sender")
    out = record(db, mail.answer("list@example.net", MID, reply_to="bob@example.net"))
    assert (out.decision.verdict, out.decision.matched_by) == (Verdict.REPLY, "reply-to")
    assert [a for a, _ in replied(db)] == ["alice@example.net", "bob@example.net"]
    bob = recipient(db, "1234", "bob@example.net")
    assert bob.evidence[0].text == "replied 12:30 (matched by reply-to)"


def test_a_third_party_answer_is_kept_on_the_reply_and_reads_for_no_one(db) -> None:
    send(db, ("alice@example.net", "to"))
    out = record(db, mail.answer("colleague@example.net", MID))
    assert (out.decision.verdict, out.events) == (Verdict.THIRD_PARTY, 0)
    assert replied(db) == []
    info = queries.load_thread(db, "1234")
    assert info is not None
    reply = info.replies[0]
    assert [(a.author, a.at) for a in reply.third_party] == [("colleague@example.net", "2026-03-01T12:30:00.000Z")]
    assert reply.recipients[0].state == "queued"


def test_a_forged_in_reply_to_naming_a_message_maild_never_sent_records_nothing(db) -> None:
    send(db, ("alice@example.net", "to"))
    out = record(db, mail.answer("alice@example.net", "<never-sent@helpdesk.example.com>"))
    assert (out.decision.verdict, out.events) == (Verdict.NOT_OURS, 0)
    assert replied(db) == []
    assert db.execute("SELECT count(*) FROM inbound_replies").fetchone()[0] == 0  # its headers are not kept


def test_a_new_message_without_references_records_nothing(db) -> None:
    send(db, ("alice@example.net", "to"))
    assert record(db, mail.answer("alice@example.net", None)).decision.verdict is Verdict.NOT_OURS


def test_auto_replies_are_never_a_reply(db) -> None:
    send(db, ("alice@example.net", "to"))
    for raw in (
        mail.out_of_office("alice@example.net", MID),
        mail.outlook_automatic_reply("alice@example.net", MID),
        mail.answer("alice@example.net", MID, headers={"Precedence": "bulk"}),
        mail.answer("alice@example.net", MID, headers={"X-Autoreply": "yes"}),
        mail.answer("alice@example.net", MID, headers={"Return-Path": "<>"}),
        mail.answer("alice@example.net", MID, subject="Automatic reply: [#1234] hello"),
    ):
        assert record(db, raw).decision.verdict is Verdict.AUTOMATIC
    assert replied(db) == []
    assert recipient(db, "1234", "alice@example.net").state == "queued"


def test_a_person_writing_about_a_vacation_is_a_reply(db) -> None:
    send(db, ("alice@example.net", "to"))
    out = record(db, mail.answer("alice@example.net", MID, subject="Re: [#1234] my vacation plans",
                                 headers={"Auto-Submitted": "no"}))
    assert out.decision.verdict is Verdict.REPLY


def test_a_report_in_the_support_mailbox_is_never_a_reply(db) -> None:
    send(db, ("alice@example.net", "to"))
    raw = mail.answer("alice@example.net", MID).replace(
        b"Content-Type: text/plain", b"Content-Type: multipart/report; report-type=disposition-notification;\r\n x")
    assert record(db, raw).decision.verdict is Verdict.AUTOMATIC


def test_the_same_answer_twice_is_recorded_once(db) -> None:
    send(db, ("alice@example.net", "to"))
    raw = mail.answer("alice@example.net", MID, message_id="<a1@client.example.net>")
    assert record(db, raw, ref="1:1").events == 1
    again = record(db, raw, ref="7:1")  # a rescan after a UIDVALIDITY change, or a second source
    assert (again.events, again.duplicate) == (0, True)
    assert len(replied(db)) == 1
    assert db.execute("SELECT count(*) FROM inbound_replies").fetchone()[0] == 1


def test_references_alone_find_the_newest_reply_maild_sent(db) -> None:
    send(db, ("alice@example.net", "to"), message_id="<old@helpdesk.example.com>")
    newer = send(db, ("alice@example.net", "to"), message_id="<new@helpdesk.example.com>")
    raw = mail.answer("alice@example.net", None,
                      references=("<old@helpdesk.example.com>", "<other@client.example.net>", "<new@helpdesk.example.com>"))
    out = record(db, raw)
    assert out.decision.reply is not None and out.decision.reply.message == newer.message


def test_a_date_before_the_reply_was_sent_is_not_believed(db) -> None:
    send(db, ("alice@example.net", "to"))
    record(db, mail.answer("alice@example.net", MID, date="Mon, 01 Jan 2024 10:00:00 +0000"))
    assert recipient(db, "1234", "alice@example.net").read_at == "2026-03-01T13:00:00.000Z"  # when maild saw it


def test_declined_stays_declined_until_a_reply_proves_reading(db) -> None:
    from maild.core.events import EventKind
    from maild.store.events import NewEvent, record_event

    sent = send(db, ("alice@example.net", "to"))
    denied = NewEvent(sent.rids["alice@example.net"], sent.message, EventKind.DENIED, T0 + timedelta(minutes=10), "mdn",
                      detail={"report": {"reporting_ua": "mail.example.net; Microsoft Outlook 16.0"}}, natural_key="d1")
    transaction(db, lambda d: record_event(d, denied, recorded_at=NOW))
    assert recipient(db, "1234", "alice@example.net").state == "declined"
    record(db, mail.answer("alice@example.net", MID))
    alice = recipient(db, "1234", "alice@example.net")
    assert (alice.state, alice.read_via) == ("read", "reply")
    assert [e.text for e in alice.evidence] == [
        "MDN denied (receipt declined) — Microsoft Outlook 16.0 — 12:10", "replied 12:30"]


def test_receipts_off_hides_replies_and_third_party_answers(db) -> None:
    from maild import departments

    send(db, ("alice@example.net", "to"))
    record(db, mail.answer("alice@example.net", MID))
    record(db, mail.answer("colleague@example.net", MID))
    transaction(db, lambda d: departments.set_receipts(d, "Billing", False, NOW))
    info = queries.load_thread(db, "1234")
    assert info is not None
    alice = info.replies[0].recipients[0]
    assert (alice.state, alice.read_at, alice.read_via, alice.evidence) == ("queued", None, None, ())
    assert info.replies[0].third_party == ()
    page = queries.list_events(db)
    assert [e.kind for e in page.events] == ["queued"]
    view = db.execute("SELECT state, read_at, read_via FROM recipient_status").fetchall()
    assert view == [("queued", None, None)]


def test_hostile_header_bytes_never_raise() -> None:
    for raw in (b"", b"\xff\xfe\x00garbage", b"From: =?utf-8?q?=ZZ?= <\r\n\r\n", b"In-Reply-To: <" + b"a" * 100000,
                b"References: " + b"<x@y> " * 5000 + b"\r\n\r\n", b"From:\r\n \r\n\r\n"):
        h = read_headers(raw)
        assert len(h.references) <= 100


def test_forgetting_an_address_erases_its_answers_as_author_and_as_recipient(db) -> None:
    from maild.retention import forget

    send(db, ("alice@example.net", "to"))
    record(db, mail.answer("alice@example.net", MID))
    record(db, mail.answer("colleague@example.net", MID))
    assert transaction(db, lambda d: forget(d, "colleague@example.net")).answers_erased == 1
    assert transaction(db, lambda d: forget(d, "Alice@example.net")).answers_erased == 1
    assert db.execute("SELECT count(*) FROM inbound_replies").fetchone()[0] == 0
    assert replied(db) == []
