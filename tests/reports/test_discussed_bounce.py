"""A person writing about a bounce (forwarding it, quoting it, asking about it) is not a bounce; the MTA's own notice is."""

from __future__ import annotations

from pathlib import Path

import pytest

from maild.reports import ReportKind, parse

DATA = Path(__file__).resolve().parents[1] / "data" / "reports"


@pytest.mark.parametrize("name", [
    "negative-forwarded-bounce-quoted.eml", "negative-reply-about-bounce.eml",
    # A person's own words under a bounce-like subject, no reply prefix: "my message to ... was returned".
    "negative-person-tells-of-bounce.eml", "negative-person-tells-of-bounce-de.eml",
    # Outlook's forwards: the original's From/Sent block after a rule of underscores (plain text), or flattened from
    # the HTML's bordered block with German labels (Von/Gesendet), the NDR pasted below.
    "negative-outlook-forward-undeliverable.eml", "negative-outlook-forward-html-de.eml",
])
def test_message_discussing_a_bounce_reports_no_bounced_recipient(name: str) -> None:
    report = parse((DATA / name).read_bytes())
    assert [r.address for r in report.recipients if r.action in ("failed", "delayed")] == []
    assert report.kind is not ReportKind.BOUNCE


def test_the_same_notice_sent_by_the_mta_is_a_bounce() -> None:
    quoted = (DATA / "negative-forwarded-bounce-quoted.eml").read_bytes().split(b"Begin forwarded message:\n", 1)[1]
    notice = b"\n".join(line[2:] if line.startswith(b"> ") else line.lstrip(b">") for line in quoted.split(b"\n"))
    # The notice itself, sent by the MTA: its own headers, then its text unquoted.
    raw = b"Return-Path: <>\nTo: support@helpdesk.example.com\n" + notice.lstrip(b"\n")
    report = parse(raw)
    assert [(r.address, r.action, r.status) for r in report.recipients] == [("old.colleague@customer.example.org", "failed", "5.1.1")]


def test_a_notice_with_only_a_bounce_subject_speaking_of_your_message_is_still_a_bounce() -> None:
    # The same sign count as the person's message (a bounce-like subject, a sender that names no mail system, no
    # null Return-Path): an MTA's text speaks of "your message", and that stays a bounce.
    person = (DATA / "negative-person-tells-of-bounce.eml").read_bytes()
    notice = person.split(b"\n\n", 1)[0].replace(b"Alice Example <alice@customer.example.org>", b"<alerts@mx.remote.example.net>")
    notice += b"\n\nYour message to bob@remote.example.net could not be delivered.\n\n550 5.1.1 User unknown\n"
    report = parse(notice)
    assert [(r.address, r.action, r.status) for r in report.recipients] == [("bob@remote.example.net", "failed", "5.1.1")]
