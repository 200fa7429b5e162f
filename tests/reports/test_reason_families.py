"""The reason rules added for issue 10's reason families, one statement each, with texts written from MTA sources and providers' docs.

Texts follow the wording of the software or provider named beside them (Exim's deliver.c "after initial
connection", Postfix's "(in reply to RCPT TO command)", Orange and La Poste's published refusal codes, Amazon
SES's "Email address is not verified"), written for these tests, not taken from the corpus.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from maild.core.reason_rules import code_says_why, reason_for
from maild.reports import parse
from maild.reports.mime import decode_bytes

GENERIC = Path(__file__).resolve().parents[1] / "data" / "generic"


@pytest.mark.parametrize(
    ("status", "text", "reason"),
    [
        # Orange / La Poste: the trailing code names the check, whatever the generic enhanced code.
        ("5.1.1", "552 5.1.1 Boite du destinataire pleine. Recipient overquota. OFR_417 [417] (in reply to RCPT TO command)", "mailboxfull"),
        ("5.0.0", "550 5.0.0 Mail rejete. Mail rejected. OFR004_506 [506]", "spamdetected"),
        ("5.5.0", "550 5.5.0 Invalid recipient. LPN007_416 (in reply to RCPT TO command)", "userunknown"),
        ("5.5.0", "550 5.5.0 Le compte du destinataire est bloque. The recipient account is blocked. LPN007_426", "suspend"),
        ("5.7.1", "554 5.7.1 Client host rejected LPN000_630", "policyviolation"),
        ("5.1.0", "501 5.1.0 Emetteur invalide. Invalid Sender. OFR004_405 [405] (in reply to MAIL FROM command)", "rejected"),
    ],
)
def test_a_france_ptt_refusal_code_decides_the_reason(status: str, text: str, reason: str) -> None:
    assert reason_for(status, text)[0] == reason


def test_a_france_ptt_code_whose_text_is_generic_leaves_the_words_to_decide() -> None:
    # 107: "Service refuse. Veuillez essayer plus tard." says no more than the words do.
    assert reason_for("4.2.1", "421 4.2.1 Service refuse. Veuillez essayer plus tard. Service refused, please try later. LPN006_107")[0] == "systemerror"


def test_a_code_like_word_without_the_provider_prefix_is_not_a_france_ptt_code() -> None:
    assert reason_for("5.1.1", "550 5.1.1 user unknown, ref ABC_416")[0] == "userunknown"


def test_a_connection_rate_limit_under_not_accepting_messages_is_too_many_connections() -> None:
    # 4.3.2 "system not accepting network messages" is the class; the text says which limit.
    assert reason_for("4.3.2", "452 4.3.2 Connection rate limit exceeded.")[0] == "toomanyconn"
    assert reason_for("4.3.2", "452 4.3.2 System not accepting network messages")[0] == "notaccept"


@pytest.mark.parametrize(
    "text",
    [
        "SMTP error from remote mail server after initial connection: 554 5.7.1 Missing reverse DNS for 198.51.100.7",
        "SMTP error from remote mail server after initial connection: 554 You have exceeded your daily relay quota",
        "SMTP error from remote mail server after initial connection: 554 5.7.1 sending too fast, slow down",
    ],
)
def test_a_refusal_at_the_greeting_is_a_block_of_our_host_whatever_the_why(text: str) -> None:
    assert reason_for(None, text) == ("blocked", False)


def test_a_server_not_accepting_connections_blocks_our_host() -> None:
    assert reason_for("5.5.0", "554 mx.example.org ESMTP not accepting connections") == ("blocked", False)


def test_user_unknown_words_under_a_policy_code_are_a_filter_unless_they_answered_rcpt_to() -> None:
    assert reason_for("5.7.1", "550 5.7.1 550 User Unknown: ann@example.org") == ("filtered", False)
    assert reason_for("5.7.1", "550 5.7.1 User unknown (in reply to RCPT TO command)") == ("userunknown", True)


def test_a_user_unknown_reply_with_an_empty_address_slot_is_a_filter() -> None:
    # A reply to RCPT TO names the refused address; "550 : User unknown" names none (the whole message was refused).
    assert reason_for(None, "550 : User unknown") == ("filtered", False)
    assert reason_for(None, "550: : User unknown") == ("filtered", False)
    assert reason_for(None, "550 <ann@example.org>: User unknown") == ("userunknown", True)


def test_the_rfc822_address_type_in_a_transcript_is_not_a_standards_complaint() -> None:
    text = "In: RCPT TO:<ann@example.org> ORCPT=rfc822;ann@example.org Out: 250 2.1.5 Ok In: DATA Out: 451 4.3.0 Error: queue file write error"
    assert reason_for(None, text)[0] == "systemerror"
    assert reason_for(None, "554 5.6.0 Message not RFC 5322 compliant")[0] == "notcompliantrfc"


def test_an_unverified_sending_identity_is_a_refusal_to_relay() -> None:
    text = "554 Message rejected: Email address is not verified. The following identities failed the check in region EU-WEST-1: ann@example.com"
    assert reason_for(None, text) == ("norelaying", False)


def test_asking_to_check_that_the_address_is_correct_says_the_address_is_unknown() -> None:
    assert reason_for("5.0.0", "Unable to deliver message to <ann@example.org>. Please check if the address is correct.")[0] == "userunknown"


def test_a_send_mail_as_misconfiguration_is_our_sender_refused() -> None:
    text = "Message not delivered. You're sending this from a different address using the 'Send mail as' feature. Its settings are misconfigured."
    assert reason_for("5.3.0", text) == ("rejected", False)


def test_code_says_why() -> None:
    assert code_says_why("4.2.2") and code_says_why("5.1.1")
    assert not code_says_why("4.4.0") and not code_says_why("4.5.0") and not code_says_why(None) and not code_says_why("x")


_DELAY = b"""From: Mail Delivery System <MAILER-DAEMON@mx.example.com>
To: receipts@helpdesk.example.com
Subject: Delivery Status Notification (Delay)
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: text/plain

This is only a notification about a delay. The server will keep trying.

--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com

Final-Recipient: rfc822; ann@example.org
Action: delayed
Status: 4.4.0
DIAG
--b--
"""


def test_a_delay_with_only_a_class_code_and_no_diagnostic_is_expired() -> None:
    (r,) = parse(_DELAY.replace(b"DIAG\n", b"")).recipients
    assert (r.action, r.status, r.reason) == ("delayed", "4.4.0", "expired")


def test_a_delay_whose_diagnostic_names_the_cause_keeps_the_cause() -> None:
    (r,) = parse(_DELAY.replace(b"DIAG", b"Diagnostic-Code: X-Postfix; connect to mx.example.org[192.0.2.9]:25: No route to host")).recipients
    assert (r.action, r.reason) == ("delayed", "networkerror")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        # Mimecast's published refusal messages, read as its documentation explains them.
        ("554 Email rejected due to security policies - MCSpamSignature.sa.4.1", "virusdetected"),
        ("451 Open relay not allowed - https://community.mimecast.com/docs/DOC-1369#451", "norelaying"),
        ("451 Account inbounds disabled", "notaccept"),
        ("451 Account service is temporarily unavailable", "toomanyconn"),
        ("554 Maximum email size exceeded", "mesgtoobig"),
        ("550 Rejected by header based Anti-Spoofing policy", "policyviolation"),
        ("550 Administrative prohibition envelope blocked", "rejected"),
        ("451 Unable to process connection at this time", "systemerror"),
    ],
)
def test_mimecasts_documented_refusals(text: str, reason: str) -> None:
    assert reason_for(None, text)[0] == reason


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("Remote host said: 550 User unknown [DATA]", "DATA"),
        ("Remote host said: 553 Sender address rejected [MAIL_FROM]", "MAIL"),
        ("Remote host said: 550 5.1.1 <a@example.org>... User Unknown [RCPT_TO]", "RCPT"),
    ],
)
def test_yahoos_bracketed_command_names_the_command(text: str, command: str) -> None:
    from maild.core.reason_rules import smtp_command

    assert smtp_command(text) == command


@pytest.mark.parametrize(
    "text",
    [
        # Lotus Domino's "User ... not listed in Domino Directory" and Notes' "User not listed in public Name & Address
        # Book" as their Japanese language packs word them.
        "ユーザー nobody (nobody@remote.example.jp) は domino ディレクトリには見つかりません。",
        "ディレクトリのリストにありません",
    ],
)
def test_domino_and_notes_japanese_not_in_directory_is_an_unknown_user(text: str) -> None:
    assert reason_for("5.0.0", text) == ("userunknown", True)


def test_a_domino_status_part_in_undeclared_iso_2022_jp_is_read_as_japanese() -> None:
    # tests/data/generic/domino-ja-not-in-directory.eml: the Diagnostic-Code holds 7-bit ISO-2022-JP (ESC $ B
    # shifts) in a message/delivery-status part with no charset, as a Japanese Domino writes it.
    report = parse((GENERIC / "domino-ja-not-in-directory.eml").read_bytes())
    (recipient,) = report.recipients
    assert (recipient.address, recipient.action, recipient.reason) == ("nobody@remote.example.jp", "failed", "userunknown")
    assert recipient.diagnostic is not None and "ディレクトリには見つかりません" in recipient.diagnostic


def test_undeclared_iso_2022_jp_is_decoded_and_a_declared_charset_is_kept() -> None:
    jp = "見つかりません".encode("iso2022_jp")
    assert decode_bytes(jp, None) == "見つかりません"
    assert decode_bytes(jp, "us-ascii") == jp.decode("ascii")  # what a part declares is what it gets
    assert decode_bytes(b"plain \x1b$ text", None) == "plain \x1b$ text"  # not ISO-2022-JP after all: left as it is


# Issue 10's "reason names of Sisimai" family, fourth pass: the same cause in the other words MTAs and mailbox
# servers write it in, each read as the reason Sisimai gives that cause. No code, so the words alone decide.
@pytest.mark.parametrize(
    ("text", "reason"),
    [
        # A mailbox over its quota, in words the size, rate and policy rules would otherwise take.
        ("552 Message for <a@b.example> would exceed mailbox quota", "mailboxfull"),  # MDaemon's transcript
        ("<a@b.example>: This person's account is exceeding their quota.", "mailboxfull"),
        ("The e-mail message could not be delivered because the user's mailfolder is full.", "mailboxfull"),
        ("552 Quota violation for a@b.example", "mailboxfull"),
        ("452 Mailbox size limit exceeded", "mailboxfull"),
        ("550 User has too many messages on the server", "mailboxfull"),
        ("552 Recipient is over the allowed quota", "mailboxfull"),
        ("452 The recipient does not have enough space", "mailboxfull"),
        # Suspended accounts.
        ("550 Mailbox a@b.example is currently suspended", "suspend"),
        ("550 The account has been suspended", "suspend"),
        # Loops seen on the way are network errors (Sendmail's "Too many hops 26 (25 max)", "Message looping"),
        # a temporary DNS answer too (Postfix's "Host not found, try again"); a loop through our own MX list is ours.
        ("554 Too many hops 26 (25 max): from a@b.example via localhost, to c@d.example", "networkerror"),
        ('Mailer mail.b.example said: "554 Message looping (received 6 times)"', "networkerror"),
        ("Maximum hop count exceeded. Message probably in a routing loop.", "networkerror"),
        ("Name service error for domain b.example: Host not found, try again", "networkerror"),
        ("mail for b.example loops back to myself", "systemerror"),
        ("The following mail has been returned because it encountered an error while being processed.", "systemerror"),
        # Our sender refused, not our host blocked: "blacklisted" names the sender address here.
        ("553 Sender address has been blacklisted", "rejected"),
        ("550 Invalid sender <a@b.example>", "rejected"),
        ("550 Null sender is not allowed", "rejected"),
        # The recipient's own rules.
        ("550 Refused due to recipient preferences", "filtered"),
        ("550 This recipient is only accepting mail from specific email addresses", "filtered"),
        # Relaying refused in blocklist-like words; DNS names and domains; connection limits; sizes.
        ("554 This is not an open relay, so get lost", "norelaying"),
        ("550 Recipient domain must exist", "hostunknown"),
        ("421 Exceeds per-domain connection limit for b.example", "toomanyconn"),
        ("552 Message file too big", "mesgtoobig"),
    ],
)
def test_the_same_cause_in_other_words_is_the_same_reason(text: str, reason: str) -> None:
    assert str(reason_for(None, text)[0]) == reason


@pytest.mark.parametrize("text", [
    # Postfix's postgrey/policyd prefix, Exim's and Sendmail's greylisting milters' words.
    "450 4.7.1 <a@b.example>: Recipient address rejected: Greylisted, please try again later",
    "451 4.7.1 Greylisting in action, please come back later",
    "450 4.2.0 <a@b.example>: Recipient address rejected: Greylisted for 300 seconds",
])
def test_greylisting_is_no_reason_least_of_all_a_bad_address(text: str) -> None:
    status = text.split()[1]
    reason, hard = reason_for(status, text, command="RCPT")
    assert (str(reason), hard) == ("undefined", False)
