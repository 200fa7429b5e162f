"""Dialect modules: each MTA's own notice format read into the right recipients, actions, codes and reasons.

The fixtures in tests/data/lhost follow each MTA's bounce templates (qmail-send's, Exim's deliver.c and
default warning message, OpenSMTPD's smtpd/bounce.c, Sendmail's savemail.c warning, Gmail's notice text, Exchange Online's NDR,
fml 4's kern/fml.pl notices (its deny text, its loop alert), Courier's module.dsn (dsn.C and its dsnheader/dsnfailed/dsndelayed/dsnfooter texts), Yahoo's qmail-derived "Failure Notice"
with "Remote host said:" and the bracketed command, Amazon SES's email feedback whose Diagnostic-Code wraps the remote's
reply "5.1.0 - Unknown address error 550-'...'"), or
are real Exim, Sendmail or OpenSMTPD output (exim-real-*, sendmail-real-*, opensmtpd-real-*, kept by
tests/e2e/test_exim_notices.py, test_sendmail_notices.py and test_opensmtpd_notices.py); the expected results come from the scenario each
fixture describes (which address was refused with which reply, whether the MTA gave up), not from a parser.
"""

from __future__ import annotations

import email
from email.policy import compat32
from pathlib import Path

import pytest

from maild.reports import ReportKind, lhost, mime, parse
from maild.reports.context import Context
from maild.reports.clues import ParseHints

DATA = Path(__file__).resolve().parents[1] / "data" / "lhost"
TOKEN = "mfrggzdfmztwq2lknnwg23tpobyxe43u"

# file: (dialect, [(address, action, status, reason)]); None: the notice (or the scenario) does not decide it.
EXPECTED = {
    "qmail-two-failures.eml": ("qmail", [
        ("nobody@qmail.example.org", "failed", "5.1.1", "userunknown"),
        # qmail gives up on a temporary failure after its queue lifetime: failed, with the last reply's code.
        ("full@remote.example.net", "failed", "4.2.2", "mailboxfull"),
    ]),
    # qmail-send adds "I'm not going to try again; ..." to the last deferral when the queue lifetime ends
    # (qmail-send.c); the deferral (qmail-remote's temp_noconn, temp_dns) says what failed.
    "qmail-queue-lifetime.eml": ("qmail", [
        ("down@offline.example.net", "failed", "4.4.1", "networkerror"),
        ("someone@nodns.example.net", "failed", "4.1.2", "hostunknown"),
    ]),
    "exim-retry-timeout.eml": ("exim", [("slow@remote.example.net", "failed", "4.4.1", "expired")]),
    "exim-delay-warning.eml": ("exim", [
        # Still queued although one host answered 5.x.x: the warning says delivery attempts continue.
        ("slow@remote.example.net", "delayed", "5.7.1", "blocked"),
        ("other@remote.example.net", "delayed", None, "expired"),
    ]),
    # Real Exim 4.96 output, kept by tests/e2e/test_exim_notices.py from its scenario (same expectations there).
    "exim-real-unknown.eml": ("exim", [("unknown@remote.test", "failed", "5.1.1", "userunknown")]),
    "exim-real-full.eml": ("exim", [("full@remote.test", "failed", "4.2.2", "mailboxfull")]),
    # The scenario's reply ("temporary lookup failure") decides no reason; only that it is a soft delay.
    "exim-real-slow.eml": ("exim", [("slow@delay.test", "delayed", "4.3.0", None)]),
    # Real Exim 4.96 bounce for two aliases it redirected (tests/e2e/test_exim_redirect_notices.py): the addresses we
    # wrote to, not the targets of "(generated from ...)"; the remote's 5.1.1 over Exim's 5.0.0.
    "exim-real-redirected.eml": ("exim", [
        ("info@alias.test", "failed", "5.1.1", "userunknown"),
        ("team@alias.test", "failed", "5.1.1", "userunknown"),
    ]),
    # Real Postfix 3.x output as the sending MTA, kept by tests/e2e/test_postfix_notices.py from its scenario (same
    # expectations there): refused at RCPT; warned, then returned when its queue lifetime ended (failed, the last 4.x.x).
    "postfix-real-refused.eml": ("postfix", [("unknown@remote.test", "failed", "5.1.1", "userunknown")]),
    "postfix-real-warning.eml": ("postfix", [
        ("full@remote.test", "delayed", "4.2.2", "mailboxfull"),
        ("slow@remote.test", "delayed", "4.7.1", None),
    ]),
    "postfix-real-gave-up.eml": ("postfix", [
        ("full@remote.test", "failed", "4.2.2", "mailboxfull"),
        # Greylisted until the queue lifetime ended: the message expired (not a bad address).
        ("slow@remote.test", "failed", "4.7.1", "expired"),
    ]),
    # Real Sendmail 8.17 output, kept by tests/e2e/test_sendmail_notices.py from its scenario (same expectations there):
    # the remote's 4.2.2 over Sendmail's own 4.3.1 mapping (warning) and 4.4.7 summary (gave up).
    "sendmail-real-returned.eml": ("sendmail", [
        ("unknown@remote.test", "failed", "5.1.1", "userunknown"),
        ("ok@remote.test", "relayed", None, None),
    ]),
    "sendmail-real-warning.eml": ("sendmail", [("full@remote.test", "delayed", "4.2.2", "mailboxfull")]),
    "sendmail-real-gave-up.eml": ("sendmail", [("full@remote.test", "failed", "4.2.2", "mailboxfull")]),
    # Real OpenSMTPD 6.8 output, kept by tests/e2e/test_opensmtpd_notices.py from its scenario: the expiry notice uses
    # the delay template, but the envelope was dropped (failed, expired).
    "opensmtpd-real-error.eml": ("opensmtpd", [("unknown@remote.test", "failed", "5.1.1", "userunknown")]),
    "opensmtpd-real-warning.eml": ("opensmtpd", [("full@remote.test", "delayed", "4.2.2", "mailboxfull")]),
    "opensmtpd-real-expired.eml": ("opensmtpd", [("full@remote.test", "failed", None, "expired")]),
    # Sendmail's warning template: still queued; the greylisting reply decides no particular reason.
    "sendmail-warning.eml": ("sendmail", [("slow@remote.example.net", "delayed", "4.7.1", None)]),
    # Gmail's older text notice: the message will be retried although the remote answered 552 5.2.2.
    "gmail-delay-text.eml": ("gmail", [("full@remote.example.net", "delayed", "5.2.2", "mailboxfull")]),
    # Office 365's wording: 5.1.10 with "RecipientNotFound" is a bad address, not a domain refusing mail.
    "exchange-undeliverable.eml": ("exchange", [("gone@contoso.example.com", "failed", "5.1.10", "userunknown")]),
    # Still being tried for another day although the last remote said 4.4.0: delayed; no reason asserted.
    "exchange-delayed.eml": ("exchange", [("busy@fabrikam.example.net", "delayed", "4.4.0", None)]),
    "opensmtpd-temporary.eml": ("opensmtpd", [("full@remote.example.net", "delayed", "5.2.2", "mailboxfull")]),
    # Courier's summary Status (5.0.0 / 4.0.0) gives way to the transcript's reply; the delay's recipients have no
    # Diagnostic-Code in the status part, only the "<<<" line (or a "***" connection error: no reply, no reason asserted).
    "courier-undeliverable.eml": ("courier", [
        ("nobody@remote.example.net", "failed", "5.1.1", "userunknown"),
        ("full@remote.example.net", "failed", "5.2.2", "mailboxfull"),
    ]),
    "courier-delayed.eml": ("courier", [
        ("full@remote.example.net", "delayed", "4.2.2", "mailboxfull"),
        ("down@offline.example.net", "delayed", "4.0.0", None),
    ]),
    # Yahoo: the bracket names the command; "User unknown" answered after DATA is a filter, not a bad address.
    "yahoo-failure-notice.eml": ("yahoo", [
        ("nobody@remote.example.net", "failed", "5.1.1", "userunknown"),
        ("full@remote.example.net", "failed", "5.2.2", "mailboxfull"),
        ("filter@remote.example.net", "failed", None, "filtered"),
    ]),
    # SES's own category ("Unknown address error") is not the reason: the wrapped reply is (5.7.1 Access denied).
    "amazonses-feedback.eml": ("amazonses", [
        ("nobody@remote.example.net", "failed", "5.1.1", "userunknown"),
        ("guarded@secure.example.org", "failed", "5.7.1", "securityerror"),
    ]),
    "opensmtpd-error.eml": ("opensmtpd", [
        ("nobody@remote.example.net", "failed", "5.1.1", "userunknown"),
        ("quota@remote.example.net", "failed", "4.2.2", "mailboxfull"),
    ]),
    # fml 4 (kern/fml.pl): the list refused a post from a non-member (RejectHandler and its deny text), or dropped
    # it as a loop (DupMessageIdP); the list address bounced, for good (fml never retries), with no code of its own.
    "fml-not-member.eml": ("fml", [("staff@lists.example.org", "failed", None, "rejected")]),
    "fml-not-member-ja.eml": ("fml", [("staff@lists.example.org", "failed", None, "rejected")]),
    "fml-loop-alert.eml": ("fml", [("staff@lists.example.org", "failed", "5.4.6", "systemerror")]),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_dialect_reads_its_notice(name: str) -> None:
    dialect, expected = EXPECTED[name]
    report = parse((DATA / name).read_bytes())
    # Exim 4.96, Courier and SES add an RFC 3464 part to their notices: read as a DSN, with the dialect setting the action.
    assert report.kind is (ReportKind.DSN if name.startswith(("exim-real-", "sendmail-real-", "opensmtpd-real-", "postfix-real-", "courier-", "amazonses-"))
                           else ReportKind.BOUNCE)
    assert f"dialect {dialect}" in report.problems
    got = [(r.address, r.action, r.status if status is not None else None, str(r.reason) if reason is not None else None)
           for r, (_, _, status, reason) in zip(report.recipients, expected, strict=True)]
    assert got == expected
    assert report.token == TOKEN


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_only_failures_of_the_address_itself_are_hard(name: str) -> None:
    for r in parse((DATA / name).read_bytes()).recipients:
        # A relayed or delivered entry is not a failure: no hard/soft at all.
        assert (r.hard or False) is (r.reason == "userunknown" and r.action == "failed")


def _context(raw: bytes) -> Context:
    msg, _ = mime.parse(raw)
    return Context(msg, ParseHints(), mime.Budget(5), [])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_matches_reads_headers_only(name: str) -> None:
    raw = (DATA / name).read_bytes()
    head = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0] + b"\n\n"
    for dialect in lhost.DIALECTS:
        assert dialect.matches(_context(raw)) == dialect.matches(_context(head + b"unrelated body\n"))


def test_a_dialect_that_matches_headers_but_not_the_body_leaves_it_to_the_generic_readers() -> None:
    raw = (DATA / "qmail-two-failures.eml").read_bytes().replace(b"Hi. This is the qmail-send program", b"Hello from a script")
    raw = raw.replace(b"I'm afraid I wasn't able to deliver your message to the following addresses.", b"Some text.")
    report = parse(raw)
    assert not any(p.startswith("dialect") for p in report.problems)


def test_every_dialect_is_registered_once_with_name_matches_and_parse() -> None:
    names = [d.NAME for d in lhost.DIALECTS]
    assert len(names) == len(set(names))
    for dialect in lhost.DIALECTS:
        assert callable(dialect.matches) and callable(dialect.parse)
        assert (dialect.__doc__ or "").strip()


def test_a_human_message_quoting_a_notice_is_not_claimed() -> None:
    # A colleague forwards the qmail notice: the subject and sender are a person's, so no dialect matches.
    raw = (DATA / "qmail-two-failures.eml").read_bytes()
    raw = raw.replace(b"From: MAILER-DAEMON@mx.qmail.example.org", b"From: Ann <ann@helpdesk.example.com>")
    raw = raw.replace(b"Subject: failure notice", b"Subject: Fwd: failure notice - what does this mean?")
    msg = email.message_from_bytes(raw, policy=compat32)
    assert not any(d.matches(_context(msg.as_bytes())) for d in lhost.DIALECTS)


def test_an_explicit_action_field_is_kept_over_the_notices_words() -> None:
    # A Postfix-style "Undelivered Mail Returned to Sender" whose RFC 3464 part says Action: delayed: the
    # MTA's own field for the recipient wins; the words decide only where the action had to be derived.
    from tests.receipts import mail

    report = parse(mail.dsn(TOKEN, "alice@example.net", action="delayed", status="4.4.1"))
    assert "dialect postfix" in report.problems
    assert [(r.address, r.action) for r in report.recipients] == [("alice@example.net", "delayed")]


def test_a_post_that_fml_distributes_is_not_its_notice() -> None:
    # A list member's message quoting fml's refusal, as the list sends it out: X-MLServer, but its author's Message-ID.
    raw = (DATA / "fml-not-member.eml").read_bytes()
    raw = raw.replace(b"Message-Id: <202412021810.FML4711.staff@lists.example.org>", b"Message-Id: <abc123@mail.example.com>")
    raw = raw.replace(b"From: staff-admin@lists.example.org", b"From: Ann <ann@example.com>")
    report = parse(raw)
    assert not any(p.startswith("dialect") for p in report.problems)
    assert not [r for r in report.recipients if r.bounced]


def test_real_opensmtpd_success_notice_reports_the_relayed_recipient() -> None:
    # NOTIFY=SUCCESS through a next hop without DSN: OpenSMTPD's "relayed" report (tests/e2e/test_opensmtpd_notices.py).
    report = parse((DATA / "opensmtpd-real-relayed.eml").read_bytes())
    assert [(r.address, r.action, r.hard) for r in report.recipients] == [("ok@remote.test", "relayed", None)]
    assert report.token == TOKEN
