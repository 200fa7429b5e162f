"""reason_for(): one representative diagnostic per reason, the hard/soft table, and the precedence rules.

The texts are written for these tests (paraphrases of the wording MTAs use), not copied from the corpus.
"""

from __future__ import annotations

import pytest

from maild.core.reason_rules import reason_for, smtp_command
from maild.core.reasons import FAILURE_REASONS, HARD_REASONS, Reason

# What reason_for() can answer: every failure reason but the one only an administrator's act gives.
REASONS = FAILURE_REASONS - {Reason.DELETED_BY_ADMIN}

# (status, text, expected reason, expected hard)
CASES: list[tuple[str | None, str | None, str, bool]] = [
    # the address itself
    ("5.1.1", "550 5.1.1 <ann@example.org>: Recipient address rejected: User unknown in virtual mailbox table", "userunknown", True),
    (None, "host mx.example.org said: 550 No such user here (in reply to RCPT TO command)", "userunknown", True),
    (None, "550 Requested action not taken: mailbox unavailable", "userunknown", True),
    ("5.1.2", "Host or domain name not found. Name service error for name=example.invalid type=A", "hostunknown", True),
    (None, "553 sorry, no such domain example.invalid", "hostunknown", True),
    ("5.1.6", "550 5.1.6 recipient no longer on server: bob@example.org", "hasmoved", True),
    (None, "550 This user has moved to bob@example.net", "hasmoved", True),
    ("5.1.10", "556 5.1.10 Recipient address has null MX", "notaccept", True),
    (None, "the domain does not accept mail (null MX)", "notaccept", True),
    # the mailbox, a state that can end
    ("5.2.2", "552 5.2.2 Mailbox full", "mailboxfull", False),
    (None, "452 quota exceeded for this user", "mailboxfull", False),
    (None, "550 account is suspended for non-payment", "suspend", False),
    ("5.2.1", "550 5.2.1 The account you tried to reach is disabled", "suspend", False),
    ("5.2.1", None, "filtered", False),
    (None, "550 Unknown user bob@example.org (in reply to end of DATA command)", "filtered", False),
    (None, "554 delivery refused: rejected by the recipient's mail filter", "filtered", False),
    # our host, our sender, our rate: never the address
    (None, "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org", "blocked", False),
    ("5.7.1", "550 5.7.1 IP address blacklisted by recipient", "blocked", False),
    (None, "SMTP error from remote mail server after initial connection: 554 go away", "blocked", False),
    ("5.1.1", "550 5.1.1 your IP 192.0.2.1 is listed on our blocklist", "blocked", False),
    (None, "421 4.7.0 Messages from 192.0.2.1 deferred due to poor reputation", "badreputation", False),
    ("5.7.25", "550 5.7.25 The sending IP has no PTR record", "requireptr", False),
    (None, "550 Client host rejected: cannot find your hostname (reverse DNS)", "requireptr", False),
    ("5.7.26", "550 5.7.26 Unauthenticated email is not accepted: DMARC policy", "authfailure", False),
    (None, "550 5.7.1 SPF check failed for sender domain", "authfailure", False),
    ("5.7.1", "530 5.7.1 authentication required", "securityerror", False),
    (None, "530 Must issue a STARTTLS command first", "securityerror", False),
    (None, "550 Message rejected as spam by content filter", "spamdetected", False),
    ("5.7.1", "554 5.7.1 Message content rejected, UBE", "spamdetected", False),
    (None, "554 Message rejected: a virus was found in the attachment", "virusdetected", False),
    ("5.7.0", "554 5.7.0 Message rejected for policy reasons", "policyviolation", False),
    ("5.7.0", "554 5.7.0 Header error", "policyviolation", False),
    (None, "550 Relay access denied", "norelaying", False),
    ("5.7.1", "554 5.7.1 <bob@example.org>: Relay access denied", "norelaying", False),
    (None, "550 Sender address rejected: Domain not found (in reply to MAIL FROM command)", "rejected", False),
    ("5.1.8", "501 5.1.8 Sender address rejected", "rejected", False),
    (None, "SMTP error from remote mail server after MAIL FROM:<me@example.com>: 550 unknown user", "rejected", False),
    (None, "421 4.7.0 Too many connections from your host", "toomanyconn", False),
    (None, "452 Too many recipients (in reply to RCPT TO command)", "toomanyconn", False),
    (None, "450 4.7.1 Rate limit exceeded, try again later", "ratelimited", False),
    ("5.1.1", "550 5.1.1 198.51.100.1 has sent to too many recipients this hour", "speeding", False),
    (None, "421 You are sending too fast, slow down", "speeding", False),
    # the message
    ("5.3.4", "552 5.3.4 Message too big for system", "mesgtoobig", False),
    (None, "552 message size exceeds fixed maximum message size", "mesgtoobig", False),
    ("5.2.3", "552 5.2.3 Message length exceeds administrative limit", "exceedlimit", False),
    ("5.6.0", "554 5.6.0 Invalid MIME structure", "contenterror", False),
    (None, "554 Message not RFC 5322 compliant: duplicate header Date", "notcompliantrfc", False),
    (None, "503 Improper sequence of commands", "syntaxerror", False),
    (None, "malformed address: <bob@example.org> may not follow <ann@example.org>", "syntaxerror", False),
    # the remote system and the network
    (None, "451 4.3.0 Error: queue file write error", "systemerror", False),
    (None, "452 4.3.1 Insufficient system storage; out of disk space", "systemfull", False),
    ("4.4.1", "connect to mx.example.org[192.0.2.9]:25: Connection timed out", "expired", False),
    (None, "Could not deliver for the last 432000 seconds. Giving up.", "expired", False),
    ("4.4.7", "Message expired after 5 days in queue", "expired", False),
    ("4.0.0", "DNS Error: DNS type 'mx' lookup of example.org responded with code NXDOMAIN, domain not found", "networkerror", False),
    (None, "lost connection with mx.example.org while sending RCPT TO", "networkerror", False),
    ("4.2.0", "421 4.2.0 Service refused, please try later", "systemerror", False),
    (None, "x-unix; procmail: couldn't write to the mailbox", "mailererror", False),
    (None, "Your message is on hold pending review by an administrator", "onhold", False),
    # fallbacks
    ("5.7.9", "550 5.7.9 Rejected", "securityerror", False),
    ("5.6.1", None, "contenterror", False),
    (None, "something unexpected happened to the message", "undefined", False),
    (None, None, "undefined", False),
    ("not a code", "", "undefined", False),
]


@pytest.mark.parametrize(("status", "text", "reason", "hard"), CASES, ids=[f"{c[2]}-{i}" for i, c in enumerate(CASES)])
def test_classify(status: str | None, text: str | None, reason: str, hard: bool) -> None:
    assert reason_for(status, text) == (reason, hard)


def test_every_reason_of_the_taxonomy_has_a_case_and_nothing_else_comes_out() -> None:
    covered = {reason for _, _, reason, _ in CASES}
    assert covered <= REASONS
    # Not reachable from status and text alone: ``undefined`` aside, all others have a written case.
    assert REASONS - covered == set()


def test_hard_only_for_reasons_about_the_address() -> None:
    assert HARD_REASONS == {"userunknown", "hostunknown", "hasmoved", "notaccept"}
    for _, _, reason, hard in CASES:
        assert hard == (reason in HARD_REASONS), reason


def test_temporary_code_is_never_hard() -> None:
    assert reason_for("4.1.1", "450 4.1.1 mailbox unknown, try again later") == ("userunknown", False)
    assert reason_for("4.1.2", "host not found, will retry") == ("hostunknown", False)


def test_a_policy_or_reputation_block_does_not_read_as_a_bad_address() -> None:
    for text in (
        "550 5.7.1 Recipient address rejected: your IP is blocklisted",
        "550 5.7.1 Recipient address rejected: poor sender reputation",
        "550 Recipient address rejected: message looks like spam",
        "550 5.7.1 Recipient address rejected: Relay access denied",
    ):
        reason, hard = reason_for("5.7.1", text)
        assert not hard, (text, reason)
        assert reason != "userunknown", text


def test_command_given_by_the_caller_wins_over_the_text() -> None:
    assert reason_for(None, "550 User unknown", command="DATA") == ("filtered", False)
    assert reason_for(None, "550 User unknown", command="RCPT") == ("userunknown", True)
    assert reason_for(None, "550 User unknown", command="MAIL") == ("rejected", False)


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("host mx.example.org said: 550 no (in reply to RCPT TO command)", "RCPT"),
        ("... while talking to mx.example.org.:\n>>> DATA\n<<< 554 rejected", "DATA"),
        ("SMTP error from remote mail server after MAIL FROM:<a@example.com> SIZE=100: 550 no", "MAIL"),
        ("SMTP error from remote mail server after initial connection: 554 no", "CONN"),
        ("Connected to 192.0.2.1 but my name was rejected.", "HELO"),
        ("550 mailbox unavailable", None),
        (None, None),
    ],
)
def test_smtp_command(text: str | None, command: str | None) -> None:
    assert smtp_command(text) == command
