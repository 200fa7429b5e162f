"""GLPI's X-Auto-Response-Suppress loses RN and NRN on copies that ask for a read receipt, and nothing else changes."""

from __future__ import annotations

from datetime import UTC, datetime

from maild import rewrite
from maild.delivery.copies import DueRecipient, SpoolMessage, plan
from tests.presets import helpdesk_mail as hm


def _copy(receipts: bool) -> bytes:
    raw = hm.glpi().raw
    headers, body = rewrite.split_message(raw)
    msg = SpoolMessage(1, "Q1", "glpi@glpi.example.com", True, receipts, datetime(2026, 12, 1, tzinfo=UTC), headers, body)
    (copy,) = plan({1: msg}, [DueRecipient(1, 1, "alice@example.net", "tok", 0)], return_path="r@x.example", delimiter="+")
    return copy.data


def test_receipts_on_drops_only_rn_and_nrn():
    data = _copy(receipts=True)
    assert rewrite.get(data, "X-Auto-Response-Suppress") == "OOF, DR, NDR"
    assert rewrite.get(data, "Auto-Submitted") == "auto-generated"
    assert rewrite.get(data, "Disposition-Notification-To") == "<r+tok@x.example>"
    original = hm.glpi().raw
    assert data.replace(b"Disposition-Notification-To: <r+tok@x.example>\r\n", b"").replace(
        b"X-Auto-Response-Suppress: OOF, DR, NDR\r\n", b"X-Auto-Response-Suppress: OOF, DR, NDR, RN, NRN\r\n"
    ) == original


def test_receipts_off_keeps_the_header_as_glpi_wrote_it():
    data = _copy(receipts=False)
    assert data == hm.glpi().raw


def test_a_header_of_only_receipt_suppressors_goes_entirely():
    headers = b"Subject: x\r\nX-Auto-Response-Suppress: rn, NRN\r\nTo: a@b.example\r\n"
    assert rewrite.drop_tokens(headers, "X-Auto-Response-Suppress", ["RN", "NRN"]) == b"Subject: x\r\nTo: a@b.example\r\n"
    assert rewrite.drop_tokens(b"X-Auto-Response-Suppress: All\r\n", "X-Auto-Response-Suppress", ["RN"]) == (
        b"X-Auto-Response-Suppress: All\r\n"
    )
