"""Every field of the real Postfix DSNs in the shared corpus (success, delay, failure)."""

from __future__ import annotations

import email
from pathlib import Path

import pytest

from maild.reports import ParseHints, ReportKind, parse

EXPECTED = {
    "success-dsn.eml": ("alice@example.net", "delivered", "2.0.0", "abc123"),
    "failure-dsn.eml": ("nosuchuser@example.net", "failed", "5.1.1", "abc123"),
    "delay-dsn.eml": ("slow@example.net", "delayed", "4.4.1", "abc124"),
}
TOKEN = "mfrggzdfmztwq2lknnwg23tpobyxe43u"  # base32, the alphabet maild's tokens use


def _stdlib_arrival_date(raw: bytes) -> str:
    """The Arrival-Date of the per-message fields, read with the standard library's email package, not our parser."""
    msg = email.message_from_bytes(raw)
    for part in msg.walk():
        if part.get_content_type() == "message/delivery-status":
            per_message = part.get_payload()[0]
            return " ".join(str(per_message["Arrival-Date"]).split())
    raise AssertionError("no message/delivery-status part")


def _read(corpus: Path, name: str) -> bytes:
    return (corpus / "postfix-dsn" / name).read_bytes()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_postfix_dsn_is_kind_dsn_with_one_recipient(corpus: Path, name: str) -> None:
    report = parse(_read(corpus, name))
    assert report.kind is ReportKind.DSN
    assert len(report.recipients) == 1


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_postfix_dsn_recipient_action_and_status(corpus: Path, name: str) -> None:
    address, action, status, _ = EXPECTED[name]
    recipient = parse(_read(corpus, name)).recipients[0]
    assert (recipient.address, recipient.original_recipient, recipient.action, recipient.status) == (address, address, action, status)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_postfix_dsn_per_message_fields(corpus: Path, name: str) -> None:
    report = parse(_read(corpus, name))
    assert report.envelope_id == EXPECTED[name][3]
    assert report.reporting_mta == "mx.example.net"
    assert report.arrival_date == _stdlib_arrival_date(_read(corpus, name))
    assert report.message_id and report.message_id.endswith("@mx.example.net>")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_postfix_dsn_original_message_id_from_returned_headers(corpus: Path, name: str) -> None:
    report = parse(_read(corpus, name))
    assert report.original_message_id and report.original_message_id.endswith("@helpdesk.example.com>")


def test_failure_dsn_diagnostic_reason_and_hardness(corpus: Path) -> None:
    recipient = parse(_read(corpus, "failure-dsn.eml")).recipients[0]
    assert recipient.diagnostic and "nosuchuser@example.net" in recipient.diagnostic
    assert (recipient.reason, recipient.hard) == ("userunknown", True)


def test_delay_dsn_is_soft_and_keeps_retry_until(corpus: Path) -> None:
    recipient = parse(_read(corpus, "delay-dsn.eml")).recipients[0]
    assert recipient.hard is False
    assert recipient.will_retry_until and "2026" in recipient.will_retry_until


def test_success_dsn_has_no_failure_reason(corpus: Path) -> None:
    recipient = parse(_read(corpus, "success-dsn.eml")).recipients[0]
    assert (recipient.reason, recipient.hard) == (None, None)


def test_test_harness_token_is_not_in_maild_alphabet_so_no_candidate(corpus: Path) -> None:
    # The harness used "5f44ae227bd8": digits 0, 1, 8, 9 are outside base32 and it is short.
    assert parse(_read(corpus, "failure-dsn.eml")).token_candidates == ()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_token_found_in_report_headers_of_real_dsn(corpus: Path, name: str) -> None:
    raw = _read(corpus, name).replace(b"5f44ae227bd8", TOKEN.encode())
    report = parse(raw, ParseHints(local_part="receipts", domain="helpdesk.example.com"))
    assert report.token == TOKEN


def test_fingerprint_ignores_transport_headers(corpus: Path) -> None:
    raw = _read(corpus, "failure-dsn.eml")
    redelivered = b"Delivered-To: someone-else@example.org\r\nX-Original-To: x@example.org\r\n" + raw.replace(b"\r\n", b"\n")
    assert parse(raw).fingerprint == parse(redelivered).fingerprint


def test_fingerprint_differs_between_reports(corpus: Path) -> None:
    prints = {parse(_read(corpus, name)).fingerprint for name in EXPECTED}
    assert len(prints) == len(EXPECTED)
