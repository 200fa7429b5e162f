"""ingest_report: correlation, trust, event mapping and exactly-once recording, on a real SQLite file, no sockets."""

from __future__ import annotations

import json

import pytest

from maild.core.events import EventKind
from maild.receipts import quarantine as q
from maild.receipts.ingest import IngestOutcome, ingest_report
from maild.receipts.quarantine import QuarantineReason
from maild.reports.model import ReportKind
from maild.store import transaction
from maild.tokens import KeySet, mint
from tests.receipts.conftest import KEYS, T0, report, result, send

RAW = b"From: MAILER-DAEMON@mx.example.net\r\nSubject: report\r\n\r\nbody\r\n"


def run(db, rep, *, now=None, source="pipe", raw=RAW, keys=KEYS, authenticated=frozenset()) -> IngestOutcome:
    return transaction(
        db, lambda d: ingest_report(d, raw, rep, keys, source, now or T0.replace(hour=13), ref="r", authenticated=authenticated)
    )


VOUCHED = frozenset({"example.net"})  # a DKIM signature of the recipients' domain verified (tests/security covers how)


def events(db, kind=None):
    names = ["recipient", "kind", "at", "source", "via", "status", "action", "reason", "hard", "diagnostic",
             "remote_mta", "reply_code", "reporting_mta", "reporting_ua", "detail"]
    sql = f"SELECT {', '.join(names)} FROM events WHERE kind != 'queued'"
    rows = [dict(zip(names, r, strict=True)) for r in db.execute(sql + " ORDER BY id")]
    return [r for r in rows if kind is None or r["kind"] == kind]


@pytest.mark.parametrize(
    ("kind", "fields", "expected"),
    [
        (ReportKind.DSN, {"action": "delivered", "status": "2.0.0"}, EventKind.DELIVERED),
        (ReportKind.DSN, {"action": "relayed", "status": "2.0.0"}, EventKind.RELAYED),
        (ReportKind.DSN, {"action": "expanded", "status": "2.0.0"}, EventKind.EXPANDED),
        (ReportKind.DSN, {"action": "delayed", "status": "4.4.1"}, EventKind.DELAYED),
        (ReportKind.DSN, {"action": "failed", "status": "5.1.1"}, EventKind.BOUNCED),
        (ReportKind.DSN, {"action": None, "status": "5.2.2"}, EventKind.BOUNCED),
        (ReportKind.BOUNCE, {"status": "5.0.0"}, EventKind.BOUNCED),
        (ReportKind.MDN, {"disposition": "displayed"}, EventKind.DISPLAYED),
        (ReportKind.MDN, {"disposition": "deleted"}, EventKind.DELETED),
        (ReportKind.MDN, {"disposition": "dispatched"}, EventKind.DISPATCHED),
        (ReportKind.MDN, {"disposition": "processed"}, EventKind.PROCESSED),
        (ReportKind.MDN, {"disposition": "denied"}, EventKind.DENIED),
        (ReportKind.MDN, {"disposition": "failed"}, EventKind.MDN_FAILED),
        (ReportKind.AUTOREPLY, {}, EventKind.AUTOREPLIED),
        (ReportKind.ARF, {}, EventKind.COMPLAINED),
    ],
)
def test_report_maps_to_event_kind(db, kind, fields, expected):
    sent = send(db, "alice@example.net")
    out = run(db, report(kind, result(**fields), token=sent.token("alice@example.net")))
    assert (out.applied, out.quarantine) == (1, None)
    assert [e["kind"] for e in events(db)] == [str(expected)]


def test_bounce_keeps_status_reason_hard_diagnostic_remote_mta(db):
    sent = send(db, "alice@example.net")
    r = result(action="failed", status="5.1.1", reason="userunknown", hard=True,
               diagnostic="smtp; 550 5.1.1 <alice@example.net>: user unknown", remote_mta="mx.example.net")
    run(db, report(ReportKind.DSN, r, token=sent.token("alice@example.net"), reporting_mta="dsn.example.net"))
    (e,) = events(db)
    assert (e["status"], e["reason"], e["hard"], e["remote_mta"], e["reply_code"], e["action"]) == (
        "5.1.1", "userunknown", 1, "mx.example.net", 550, "failed")
    assert e["diagnostic"].startswith("smtp; 550")
    assert (e["source"], e["via"], e["reporting_mta"], e["reporting_ua"]) == ("dsn", "pipe", "dsn.example.net", None)


def test_event_source_is_the_report_kind_and_via_how_it_arrived(db):
    sent = send(db, "alice@example.net")
    run(db, report(ReportKind.MDN, result(disposition="displayed"), token=sent.token("alice@example.net"),
                   reporting_ua="Thunderbird"), source="imap")
    (e,) = events(db)
    detail = json.loads(e["detail"])
    assert (e["source"], e["via"], e["reporting_ua"]) == ("mdn", "imap", "Thunderbird")
    assert detail["report"]["kind"] == "mdn"
    assert detail["report"]["reporting_ua"] == "Thunderbird"
    assert detail["recipient"]["disposition"] == "displayed"
    assert detail["matched_by"] == "token"


def test_same_report_twice_records_one_event(db):
    sent = send(db, "alice@example.net")
    rep = report(ReportKind.DSN, result(action="delivered"), token=sent.token("alice@example.net"))
    first, second = run(db, rep), run(db, rep)
    assert (first.applied, first.duplicates) == (1, 0)
    assert (second.applied, second.duplicates, second.quarantine) == (0, 1, None)
    assert len(events(db)) == 1
    assert db.execute("SELECT seen, events FROM reports WHERE fingerprint = 'fp1'").fetchone() == (2, 1)


def test_second_bounce_with_same_status_from_another_mta_is_a_duplicate(db):
    sent = send(db, "alice@example.net")
    tok = sent.token("alice@example.net")
    run(db, report(ReportKind.DSN, result(action="failed", status="5.1.1"), token=tok, fingerprint="mta1"))
    out = run(db, report(ReportKind.BOUNCE, result(status="5.1.1"), token=tok, fingerprint="mta2"))
    assert (out.applied, out.duplicates) == (0, 1)
    assert len(events(db, "bounced")) == 1


def test_second_bounce_with_another_status_is_recorded(db):
    sent = send(db, "alice@example.net")
    tok = sent.token("alice@example.net")
    run(db, report(ReportKind.DSN, result(action="failed", status="5.1.1"), token=tok, fingerprint="mta1"))
    out = run(db, report(ReportKind.DSN, result(action="failed", status="5.2.2"), token=tok, fingerprint="mta2"))
    assert out.applied == 1
    assert [e["status"] for e in events(db, "bounced")] == ["5.1.1", "5.2.2"]


def test_forged_token_is_quarantined_counted_and_not_applied(db):
    sent = send(db, "alice@example.net")
    forged = mint(KeySet({"a": b"\x01" * 32}, "a"), sent.rid("alice@example.net"))
    rep = report(ReportKind.MDN, result(disposition="displayed"), token=forged,
                 original_message_id=sent.message_id)
    out = run(db, rep)
    assert out.quarantine is QuarantineReason.TOKEN_BAD_SIGNATURE
    assert events(db) == []
    assert db.execute("SELECT count FROM token_rejections WHERE reason = 'token_bad_signature'").fetchone() == (1,)


@pytest.mark.parametrize(
    ("forge", "reason"),
    [
        (lambda rid: mint(KeySet({"a": b"\x01" * 32}, "a"), rid), QuarantineReason.TOKEN_BAD_SIGNATURE),
        (lambda rid: "a" + "b" * 31, QuarantineReason.TOKEN_MALFORMED),  # non-canonical base32
    ],
)
def test_bad_token_is_not_applied_even_when_message_id_and_address_match(db, forge, reason):
    sent = send(db, "alice@example.net")
    rep = report(ReportKind.MDN, result("alice@example.net", disposition="displayed"),
                 token=forge(sent.rid("alice@example.net")), original_message_id=sent.message_id)
    assert run(db, rep).quarantine is reason
    assert events(db) == []


def test_valid_signature_but_token_of_no_recipient_is_quarantined(db):
    sent = send(db, "alice@example.net")
    other = mint(KEYS, sent.rid("alice@example.net"))  # same id, different nonce: not the stored token
    out = run(db, report(ReportKind.MDN, result(disposition="displayed"), token=other))
    assert out.quarantine is QuarantineReason.TOKEN_UNKNOWN_RECIPIENT
    assert events(db) == []


def test_token_of_unknown_key_is_quarantined(db):
    sent = send(db, "alice@example.net")
    tok = "z" + sent.token("alice@example.net")[1:]
    assert run(db, report(ReportKind.MDN, result(disposition="displayed"), token=tok)).quarantine is QuarantineReason.TOKEN_UNKNOWN_KEY


def carrying(*candidates: str) -> dict[str, object]:
    """Token fields as the parser sets them: the primary token is the first candidate."""
    return {"token": candidates[0], "token_candidates": tuple(candidates)}


MALFORMED = "a" + "b" * 31  # shaped like a token (base32 alphabet) but not one maild could have made


def test_malformed_primary_is_skipped_when_a_later_candidate_verifies(db):
    sent = send(db, "alice@example.net")
    rep = report(ReportKind.DSN, result(action="delivered"), **carrying(MALFORMED, sent.token("alice@example.net")))
    out = run(db, rep)
    assert (out.applied, out.quarantine) == (1, None)
    assert [e["recipient"] for e in events(db)] == [sent.rid("alice@example.net")]
    assert db.execute("SELECT count FROM token_rejections WHERE reason = 'token_malformed'").fetchone() == (1,)


@pytest.mark.parametrize(
    ("forge", "reason"),
    [
        (lambda sent: mint(KeySet({"a": b"\x01" * 32}, "a"), sent.rid("bob@example.net")),
         QuarantineReason.TOKEN_BAD_SIGNATURE),
        (lambda sent: "z" + sent.token("bob@example.net")[1:], QuarantineReason.TOKEN_UNKNOWN_KEY),
        (lambda sent: mint(KEYS, sent.rid("bob@example.net")), QuarantineReason.TOKEN_UNKNOWN_RECIPIENT),
    ],
)
def test_a_failing_secondary_candidate_quarantines_even_when_the_primary_verifies(db, forge, reason):
    sent = send(db, "alice@example.net", "bob@example.net")
    rep = report(ReportKind.DSN, result("alice@example.net", action="delivered"),
                 **carrying(sent.token("alice@example.net"), forge(sent)))
    out = run(db, rep)
    assert (out.applied, out.quarantine) == (0, reason)
    assert events(db) == []
    assert db.execute("SELECT count FROM token_rejections WHERE reason = ?", (str(reason),)).fetchone() == (1,)


def test_a_forged_token_beside_a_valid_one_in_a_real_dsn_quarantines_it(db):
    """End to end through the parser: the envelope id carries a valid token, the To: address a forged one."""
    from maild.reports import parse
    from maild.reports.clues import hints_for
    from tests.receipts import mail

    sent = send(db, "alice@example.net")
    forged = mint(KeySet({"a": b"\x01" * 32}, "a"), sent.rid("alice@example.net"))
    raw = mail.dsn(sent.token("alice@example.net"), "alice@example.net").replace(
        mail.verp(sent.token("alice@example.net")).encode(), mail.verp(forged).encode(), 1)
    rep = parse(raw, hints_for("receipts@helpdesk.example.com", "+"))
    assert rep.token == sent.token("alice@example.net") and forged in rep.token_candidates
    out = transaction(db, lambda d: ingest_report(d, raw, rep, KEYS, "pipe", T0.replace(hour=13)))
    assert out.quarantine is QuarantineReason.TOKEN_BAD_SIGNATURE
    assert events(db) == []


# ------------------------------------------------------------------ one token, several results


def test_alias_dsn_applies_only_the_result_for_the_token_recipient(db):
    """A DSN for an expanded alias: the alias itself expanded, one member failed; the token names the alias."""
    sent = send(db, "team@example.net")
    rep = report(
        ReportKind.DSN,
        result("team@example.net", original_recipient="team@example.net", action="expanded", status="2.0.0"),
        result("member@other.example", action="failed", status="5.1.1"),
        token=sent.token("team@example.net"),
    )
    out = run(db, rep)
    assert (out.applied, out.quarantine) == (1, None)
    assert [e["kind"] for e in events(db)] == ["expanded"]


def test_result_matched_by_original_recipient_case_insensitively(db):
    sent = send(db, "alice@example.net")
    rep = report(
        ReportKind.DSN,
        result("someone-else@example.org", action="failed", status="5.1.1"),
        result("alice@mailhost.example.net", original_recipient="<Alice@Example.NET>", action="delivered"),
        token=sent.token("alice@example.net"),
    )
    run(db, rep)
    assert [e["kind"] for e in events(db)] == ["delivered"]


@pytest.mark.parametrize(
    ("results", "expected"),
    [
        ((dict(action="delivered", status="2.0.0"), dict(action="failed", status="5.1.1")), ("bounced", "5.1.1")),
        ((dict(action="relayed", status="2.0.0"), dict(action="delayed", status="4.4.1")), ("delayed", "4.4.1")),
        ((dict(action="delayed", status="4.4.1"), dict(action="failed", status="5.2.2"),
          dict(action="expanded", status="2.0.0")), ("bounced", "5.2.2")),
        ((dict(action="weird"), dict(action="delivered", status="2.0.0")), ("delivered", "2.0.0")),
    ],
)
def test_no_result_names_the_token_recipient_the_most_severe_one_applies(db, results, expected):
    sent = send(db, "alice@example.net")
    listed = [result(f"member{i}@lists.example", **fields) for i, fields in enumerate(results)]
    out = run(db, report(ReportKind.DSN, *listed, token=sent.token("alice@example.net")))
    assert out.applied == 1
    assert [(e["kind"], e["status"]) for e in events(db)] == [expected]


def test_heuristic_bounce_listing_several_addresses_records_one_bounce(db):
    sent = send(db, "alice@example.net")
    rep = report(ReportKind.BOUNCE, result("x@example.org", status="5.1.1"), result("y@example.org", status="5.2.2"),
                 token=sent.token("alice@example.net"))
    out = run(db, rep)
    assert (out.applied, out.duplicates) == (1, 0)  # the second address is not even considered
    assert [(e["kind"], e["status"]) for e in events(db)] == [("bounced", "5.1.1")]


def test_several_results_naming_the_token_recipient_still_apply_one(db):
    sent = send(db, "alice@example.net")
    rep = report(ReportKind.DSN,
                 result("alice@example.net", action="delivered", status="2.0.0"),
                 result("other@example.org", original_recipient="alice@example.net", action="failed", status="5.1.1"),
                 token=sent.token("alice@example.net"))
    assert run(db, rep).applied == 1
    assert [e["kind"] for e in events(db)] == ["bounced"]


def test_mdn_with_several_results_applies_its_first_disposition(db):
    sent = send(db, "alice@example.net")
    rep = report(ReportKind.MDN, result("a@example.org", disposition="displayed"),
                 result("b@example.org", disposition="deleted"), token=sent.token("alice@example.net"))
    assert run(db, rep).applied == 1
    assert [e["kind"] for e in events(db)] == ["displayed"]


def test_no_token_matches_by_message_id_and_final_recipient(db):
    sent = send(db, "alice@example.net", "bob@example.net")
    rep = report(ReportKind.MDN, result("Bob@Example.net", disposition="displayed"), original_message_id=sent.message_id)
    out = run(db, rep, authenticated=VOUCHED)
    assert out.applied == 1
    (e,) = events(db)
    assert e["recipient"] == sent.rid("bob@example.net")
    assert json.loads(e["detail"])["matched_by"] == "message_id"


def test_no_token_matches_by_original_recipient(db):
    sent = send(db, "alice@example.net")
    rep = report(ReportKind.DSN, result("alice@mail.example.net", original_recipient="rfc822;alice@example.net".split(";")[1],
                                        action="delivered"), original_message_id=sent.message_id)
    assert run(db, rep, authenticated=VOUCHED).applied == 1


def test_no_token_and_address_maild_never_sent_to_is_quarantined(db):
    sent = send(db, "alice@example.net")
    rep = report(ReportKind.MDN, result("mallory@example.net", disposition="displayed"), original_message_id=sent.message_id)
    assert run(db, rep).quarantine is QuarantineReason.NO_MATCH
    assert events(db) == []


def test_report_about_a_message_maild_never_sent_is_quarantined(db):
    send(db, "alice@example.net")
    rep = report(ReportKind.DSN, result(action="failed", status="5.1.1"), original_message_id="<other@elsewhere>")
    assert run(db, rep).quarantine is QuarantineReason.NO_MATCH


def test_unknown_kind_is_quarantined_as_not_a_report(db):
    assert run(db, report(ReportKind.UNKNOWN)).quarantine is QuarantineReason.NOT_A_REPORT


def test_parser_failure_is_quarantined_with_raw_bytes(db):
    out = transaction(db, lambda d: ingest_report(d, b"\xff garbage", None, KEYS, "pipe", T0, parse_error="boom"))
    assert out.quarantine is QuarantineReason.UNPARSEABLE
    item, raw = q.get(db, out.quarantine_id)
    assert raw == b"\xff garbage"
    assert item.detail["error"] == "boom"


def test_dsn_without_usable_action_is_quarantined(db):
    sent = send(db, "alice@example.net")
    out = run(db, report(ReportKind.DSN, result(action="weird"), token=sent.token("alice@example.net")))
    assert out.quarantine is QuarantineReason.NO_USABLE_RESULT


def test_same_quarantined_report_twice_keeps_one_row(db):
    rep = report(ReportKind.UNKNOWN)
    a, b = run(db, rep), run(db, rep)
    assert a.quarantine_id == b.quarantine_id
    assert q.items(db)[0].seen == 2


def test_autoreply_without_recipients_applies_to_the_token_recipient(db):
    sent = send(db, "alice@example.net")
    out = run(db, report(ReportKind.AUTOREPLY, token=sent.token("alice@example.net")))
    assert out.applied == 1
    assert events(db)[0]["recipient"] == sent.rid("alice@example.net")


@pytest.mark.parametrize(
    ("last_attempt", "date", "expected"),
    [
        ("Sun, 01 Mar 2026 12:30:00 +0000", None, "2026-03-01T12:30:00.000Z"),  # sane: kept
        (None, "Sun, 01 Mar 2026 12:40:00 +0000", "2026-03-01T12:40:00.000Z"),
        ("Sat, 28 Feb 2026 12:30:00 +0000", None, "2026-03-01T13:00:00.000Z"),  # before queued: received time
        ("Sun, 01 Mar 2026 15:00:00 +0000", None, "2026-03-01T13:00:00.000Z"),  # in the future: received time
        ("Sun, 01 Mar 2026 13:04:00 +0000", None, "2026-03-01T13:04:00.000Z"),  # within the clock skew
        ("garbage", None, "2026-03-01T13:00:00.000Z"),
    ],
)
def test_event_time_is_report_date_bounded_else_received(db, last_attempt, date, expected):
    sent = send(db, "alice@example.net")
    rep = report(ReportKind.DSN, result(action="delivered", last_attempt_date=last_attempt),
                 token=sent.token("alice@example.net"), date=date)
    run(db, rep, now=T0.replace(hour=13))
    assert events(db)[0]["at"] == expected


def test_a_report_dated_before_the_copy_was_accepted_takes_the_received_time(db):
    """Report dates have whole seconds: a DSN sent in the second the upstream accepted the copy must not sort before it."""
    from datetime import timedelta

    from maild.core.events import EventSource
    from maild.store.events import NewEvent, record_event

    sent = send(db, "alice@example.net")
    rid = sent.rid("alice@example.net")
    mid = db.execute("SELECT message FROM recipients WHERE id = ?", (rid,)).fetchone()[0]
    accepted_at = T0 + timedelta(minutes=1, milliseconds=1)
    transaction(db, lambda d: record_event(
        d, NewEvent(rid, mid, EventKind.ACCEPTED, accepted_at, EventSource.SMTP), recorded_at=accepted_at))
    rep = report(ReportKind.DSN, result(action="delayed", status="4.4.1",
                 last_attempt_date="Sun, 01 Mar 2026 12:01:00 +0000"), token=sent.token("alice@example.net"))
    run(db, rep, now=T0.replace(hour=13))
    assert events(db, "delayed")[0]["at"] == "2026-03-01T13:00:00.000Z"
