"""Exchange read receipts wrapped in TNEF (winmail.dat): read through tnefparse, judged like any text receipt."""

from __future__ import annotations

from maild.reports import ReportKind, parse
from tests.reports.tnef_writer import tnef, wrapped_message

ORIGINAL = "<reply-42@helpdesk.example.com>"
ITALIAN = "Il messaggio\r\n\r\n  A: Max\r\n  Oggetto: [#1234] Fattura\r\n\r\nè stato letto in data lunedì 2 dicembre 2024 10:00."


def test_tnef_read_receipt_is_displayed_by_its_message_class() -> None:
    blob = tnef("REPORT.IPM.Note.IPNRN", "Letto: [#1234] Fattura", ITALIAN, in_reply_to=ORIGINAL)
    report = parse(wrapped_message(blob, sender="quinto@example.it", subject="Letto: [#1234] Fattura"))
    assert report.kind is ReportKind.MDN
    assert [(r.address, r.disposition) for r in report.recipients] == [("quinto@example.it", "displayed")]
    assert report.original_message_id == ORIGINAL


def test_tnef_not_read_class_is_deleted() -> None:
    blob = tnef("REPORT.IPM.Note.IPNNRN", "Non letto: [#1234] Fattura", "Il messaggio è stato eliminato senza essere letto.")
    report = parse(wrapped_message(blob, sender="quinto@example.it", subject="Non letto: [#1234] Fattura", in_reply_to=ORIGINAL))
    assert [(r.address, r.disposition) for r in report.recipients] == [("quinto@example.it", "deleted")]
    assert report.original_message_id == ORIGINAL


def test_tnef_subject_and_sentence_alone_make_a_receipt() -> None:
    # No outer subject and a plain IPM.Note class: the wrapped subject prefix and sentence decide, as for text.
    blob = tnef("IPM.Note", "Letto: [#1234] Fattura", ITALIAN, in_reply_to=ORIGINAL)
    report = parse(wrapped_message(blob, sender="quinto@example.it", subject=None))
    assert [(r.address, r.disposition) for r in report.recipients] == [("quinto@example.it", "displayed")]


def test_tnef_human_message_with_a_receipt_like_subject_is_not_a_receipt() -> None:
    blob = tnef("IPM.Note", "Letto: [#1234] Fattura", "Ciao, ho letto la fattura: domani pago. Grazie!")
    report = parse(wrapped_message(blob, sender="quinto@example.it", subject="Letto: [#1234] Fattura", in_reply_to=ORIGINAL))
    assert (report.kind, report.recipients) == (ReportKind.UNKNOWN, ())


def test_corrupt_tnef_is_unknown_with_a_note_not_a_crash() -> None:
    blob = tnef("REPORT.IPM.Note.IPNRN", "Letto: x", ITALIAN)[:40] + b"\xff" * 30
    report = parse(wrapped_message(b"\x78\x9f\x3e\x22garbage" + blob, sender="quinto@example.it", subject="Letto: [#1234] Fattura"))
    assert report.kind is ReportKind.UNKNOWN
    assert not any(p.startswith("parser error") for p in report.problems)
