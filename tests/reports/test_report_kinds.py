"""Each report kind and each broken DSN form, one hand-written fixture per case (tests/data/reports), table-driven."""

from __future__ import annotations

from pathlib import Path

import pytest

from maild.reports import ReportKind, parse

DATA = Path(__file__).resolve().parents[2] / "tests" / "data" / "reports"

# file: (kind, address, action, status, hard)
DSN_FORMS = {
    "dsn-status-base64.eml": ("anna@example.org", "status part base64"),
    "dsn-status-text-plain.eml": ("bert@example.org", "status part labelled text/plain"),
    "dsn-status-no-final-newline.eml": ("carl@example.org", None),
    "dsn-nested-in-mixed.eml": ("dora@example.org", None),
}
AUTOREPLIES = {
    "autoreply-auto-submitted.eml": "ida@example.org",
    "autoreply-x-autoreply.eml": "jan@example.org",
    "autoreply-x-autorespond.eml": "kai@example.org",
    "autoreply-precedence.eml": "lea@example.org",
    "autoreply-subject-de.eml": "moritz@example.de",
    "autoreply-subject-fr.eml": "nadia@example.fr",
    "autoreply-subject-es.eml": "oscar@example.es",
    "autoreply-subject-en.eml": "pia@example.com",
}
HUMAN_MAIL = ["human-vacation-reply.eml", "human-absence-subject.eml"]
ARF = {"arf-original-rcpt-to.eml": "sara@example.net", "arf-embedded-to.eml": "tom@example.net"}
# A reputation or policy block must not read as "the address is bad".
BLOCKS = {
    "dsn-block-blocklist.eml": ("fritz@example.org", "blocked"),
    "dsn-block-reputation.eml": ("gina@example.org", "badreputation"),
    "dsn-block-policy.eml": ("hugo@example.org", "policyviolation"),
}


def _parse(name: str):
    return parse((DATA / name).read_bytes())


@pytest.mark.parametrize("name", sorted(DSN_FORMS))
def test_broken_dsn_forms_still_give_the_failed_recipient(name: str) -> None:
    address, problem = DSN_FORMS[name]
    report = _parse(name)
    assert report.kind is ReportKind.DSN
    assert [(r.address, r.action, r.status, r.reason, r.hard) for r in report.recipients] == [
        (address, "failed", "5.1.1", "userunknown", True)
    ]
    if problem:
        assert problem in report.problems


def test_broken_dsn_keeps_the_token_of_the_bounce_address() -> None:
    assert _parse("dsn-status-base64.eml").token == "mfrggzdfmztwq2lknnwg23tpobyxe43u"


@pytest.mark.parametrize("name", sorted(AUTOREPLIES))
def test_autoreply_is_evidence_of_delivery_not_a_bounce(name: str) -> None:
    report = _parse(name)
    assert report.kind is ReportKind.AUTOREPLY
    assert [(r.address, r.action, r.reason, r.bounced) for r in report.recipients] == [(AUTOREPLIES[name], None, "vacation", False)]
    assert report.original_message_id == "<reply-42@helpdesk.example.com>"


@pytest.mark.parametrize("name", HUMAN_MAIL)
def test_human_reply_mentioning_absence_or_vacation_is_not_a_report(name: str) -> None:
    report = _parse(name)
    assert report.kind is ReportKind.UNKNOWN
    assert report.recipients == ()


@pytest.mark.parametrize("name", sorted(ARF))
def test_arf_names_the_complaining_recipient(name: str) -> None:
    report = _parse(name)
    assert report.kind is ReportKind.ARF
    assert [(r.address, r.reason, r.bounced) for r in report.recipients] == [(ARF[name], "feedback", False)]
    assert report.reporting_ua == "ExampleFBL/1.0"


def test_delayed_dsn_is_a_delay_not_a_failure() -> None:
    report = _parse("dsn-delayed.eml")
    assert report.kind is ReportKind.DSN
    [recipient] = report.recipients
    assert (recipient.address, recipient.action, recipient.status, recipient.hard) == ("emil@example.org", "delayed", "4.4.1", False)
    assert recipient.will_retry_until == "Thu, 6 Mar 2025 10:00:00 +0000"
    assert report.original_message_id == "<reply-42@helpdesk.example.com>"


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_policy_or_reputation_block_is_not_a_bad_address(name: str) -> None:
    address, reason = BLOCKS[name]
    [recipient] = _parse(name).recipients
    assert (recipient.address, recipient.action, recipient.status, recipient.reason, recipient.hard) == (address, "failed", "5.7.1", reason, False)
