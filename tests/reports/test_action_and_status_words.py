"""The action read from what a notice says (gave up / keeps trying) and the status code taken from the remote's own reply."""

from __future__ import annotations

import email
from email.policy import compat32
from pathlib import Path

import pytest

from maild.reports.dsn import remote_status
from maild.reports.retrying import Retry, action, said, without_stop_notice

LHOST = Path(__file__).resolve().parents[1] / "data" / "lhost"

# (subject, text, what it says); phrasings from the MTAs' own bounce templates (qmail-send, Exim, OpenSMTPD, Gmail, Sendmail).
SAYINGS = [
    ("failure notice", "This is a permanent error; I've given up. Sorry it didn't work out.\n<a@b.example>:\n450 4.2.2 full", Retry.GAVE_UP),
    ("Mail delivery failed: returning message to sender", "a@b.example\n    retry timeout exceeded", Retry.GAVE_UP),
    ("Delivery Status Notification (Failure)", "Delivery to the following recipient failed permanently:", Retry.GAVE_UP),
    ("Delivery status notification: temporary failure", "Please note that this is only a temporary failure report.", Retry.KEEPS_TRYING),
    ("Delivery Status Notification (Delay)", "Message will be retried for 2 more day(s)", Retry.KEEPS_TRYING),
    ("Warning: could not send message for past 4 hours", "The original message was received at ...", Retry.KEEPS_TRYING),
    # Exim's delay warning (deliver.c): "No action is required on your part. Delivery attempts will continue for some time".
    ("Warning: message 1L7v7Z-00025a-Qx delayed 24 hours", "Delivery attempts will continue for\nsome time", Retry.KEEPS_TRYING),
    ("Delivery failure notification", "could not be delivered to the following recipients:\na@b.example\n"
     "Delivery attempts will continue to be made for 5 day(s).", Retry.KEEPS_TRYING),
    # "Warning" alone in a subject does not say the message is still queued: the text must.
    ("Warning: a@b.example - User unknown!", "a@b.example - no such user here.", None),
    ("Undelivered Mail Returned to Sender", "I'm sorry to have to inform you that your message could not be delivered", None),
    # A digest that says both: neither wins, the code decides.
    ("Delivery report", "a@b: permanent error\nc@d: this is only a warning, will be retried", None),
    # Sendmail (savemail.c's section heads, envelope.c's queue timeout and Deliver-By texts) under a subject that
    # decides nothing: the words in the body do.
    ("Returned mail: see transcript for details", "   ----- The following addresses had permanent fatal errors -----\n"
     "<a@b.example>\n    (reason: 452 4.2.2 <a@b.example>... Mailbox full)", Retry.GAVE_UP),
    ("Returned mail: see transcript for details", "   ----- The following addresses had transient non-fatal errors -----\n"
     "<a@b.example>\n", Retry.KEEPS_TRYING),
    ("Mail delivery report", "<a@b.example>... Deferred: Connection timed out with mx.b.example.\n"
     "Warning: message still undelivered after 4 hours\nWill keep trying until message is 5 days old", Retry.KEEPS_TRYING),
    ("Returned mail: Cannot send message for 5 days", "<a@b.example>... Cannot send message for 5 days", Retry.GAVE_UP),
    ("Mail delivery report", "<a@b.example>... Deferred: Connection refused by mx.b.example.\n"
     "Message will be deleted from queue", Retry.GAVE_UP),
    ("Returned mail: see transcript for details", "Delivery time (3600s) expired\n", Retry.GAVE_UP),
    ("Mail delivery report", "Warning: Delivery time (3600s) exceeded\n", Retry.KEEPS_TRYING),
    # Sendmail's return listing a failed and a still-queued recipient: the code decides, per recipient.
    ("Returned mail: see transcript for details", "   ----- The following addresses had permanent fatal errors -----\n"
     "<a@b.example>\n\n   ----- The following addresses had transient non-fatal errors -----\n<c@d.example>\n", None),
    # Exchange 2000/2003's 4.4.7 text (its NDR's user section, as Microsoft's NDR pages show it); Exchange's delay
    # notice; a retry period, limit or count that ran out; "stopped trying". Under subjects that decide nothing.
    ("Undeliverable: Your invoice", "'a@b.example' on 03/12/2026 09:00\n    Could not deliver the message in the time limit "
     "specified.  Please retry or contact your administrator.\n    <mail.b.example #4.4.7>", Retry.GAVE_UP),
    ("Delivery Status Notification", "This message hasn't been delivered yet. Delivery will continue to be attempted.", Retry.KEEPS_TRYING),
    ("Delivery Status Notification", "The server will continue to attempt delivery for 2 days.", Retry.KEEPS_TRYING),
    ("Delivery Status Notification", "a@b.example: 451 4.3.0 try later\nThe retry period has expired.", Retry.GAVE_UP),
    ("Delivery Status Notification", "a@b.example: 451 4.3.0 try later\nMaximum number of retries exceeded.", Retry.GAVE_UP),
    ("Delivery Status Notification", "a@b.example: 421 busy\nRetry limit reached, the message was removed.", Retry.GAVE_UP),
    ("Delivery Status Notification", "The server has tried delivering this message, without success, and has stopped trying.", Retry.GAVE_UP),
    # "permanent error" and "still being tried" in the languages notices are written in (German, French, Spanish, Italian, Dutch).
    ("Unzustellbar", "Dies ist ein permanenter Fehler. Die Nachricht konnte nicht zugestellt werden.", Retry.GAVE_UP),
    ("Non remis", "Ceci est une erreur permanente.", Retry.GAVE_UP),
    ("No entregado", "Este es un error permanente.", Retry.GAVE_UP),
    ("Mancata consegna", "Si è verificato un errore permanente.", Retry.GAVE_UP),
    ("Onbestelbaar", "Dit is een permanente fout.", Retry.GAVE_UP),
    ("Mitteilung", "Dies ist nur eine Warnung. Es wird weiterhin versucht, die Nachricht zuzustellen.", Retry.KEEPS_TRYING),
    ("Mitteilung", "Die Zustellung wurde verzögert.", Retry.KEEPS_TRYING),
    ("Avis de retard", "Une nouvelle tentative sera effectuée plus tard.", Retry.KEEPS_TRYING),
    ("Aviso", "Se volverá a intentar la entrega.", Retry.KEEPS_TRYING),
    ("Avviso", "La consegna verrà ritentata.", Retry.KEEPS_TRYING),
    # A remote's reply asking to "retry" later says nothing about what the reporting MTA does next.
    ("Undeliverable: Your invoice", "a@b.example: 550 5.7.1 rejected, please retry later", None),
]


@pytest.mark.parametrize(("subject", "text", "expected"), SAYINGS)
def test_notice_says_whether_it_gave_up(subject: str, text: str, expected: Retry | None) -> None:
    assert said(subject, text) is expected


@pytest.mark.parametrize(
    ("retry", "status", "expected"),
    [(Retry.GAVE_UP, "4.2.2", "failed"), (Retry.KEEPS_TRYING, "5.1.1", "delayed"), (None, "4.4.1", "delayed"), (None, None, "failed")],
)
def test_words_decide_before_the_code(retry: Retry | None, status: str | None, expected: str) -> None:
    assert action(retry, status) == expected


@pytest.mark.parametrize(
    ("status", "diagnostic", "expected"),
    [
        ("5.0.0", "550 5.7.26 <a@b>: Multiple authentication checks failed", "5.7.26"),  # OpenSMTPD's summary
        ("5.0.0", "5.1.0 - Unknown address error 550-'5.7.1 <x@y>... Access denied'", "5.7.1"),  # Amazon SES
        ("4.4.7", "554 4.4.7 Message expired: unable to deliver in 840 minutes.<421 4.4.2 Connection timed out>", "4.4.2"),
        ("5.1.1", "550 5.7.1 IP address blacklisted by recipient", "5.7.1"),  # Sendmail mapping a reply onto 5.1.1
        ("5.0.0", "550 #5.1.0 Address rejected.", "5.1.0"),
        ("5.1.1", "550 5.0.0 <a@b> User unknown", "5.1.1"),  # the quoted code is vaguer: the field stays
        ("5.0.0", "452 4.2.2 <a@b>: Mailbox full: retry timeout exceeded", "4.2.2"),  # a bare 5.0.0 says only "failed"
        ("5.1.1", "421 4.4.2 connection timed out", "5.1.1"),  # a precise code of another class stays
        ("5.2.2", "mailbox full", "5.2.2"),
        (None, "smtp; 550 5.1.1 user unknown", "5.1.1"),
    ],
)
def test_status_comes_from_the_remote_reply_when_the_field_is_a_summary(status: str | None, diagnostic: str, expected: str) -> None:
    assert remote_status(status, diagnostic) == expected


def test_a_session_transcript_takes_the_failing_reply_not_the_accepting_one() -> None:
    # Postfix smtpd's postmaster notice (smtpd_chat.c: "Transcript of session follows.", " In:  "/" Out: " lines):
    # RCPT TO was accepted with 250 2.1.5, then DATA failed with 451 4.3.0, which the client will retry.
    from pathlib import Path

    from maild.reports import parse

    raw = (Path(__file__).resolve().parents[1] / "data" / "reports" / "postfix-smtpd-errors.eml").read_bytes()
    assert [(r.address, r.action, r.status) for r in parse(raw).recipients] == [("alice@mx.example.org", "delayed", "4.3.0")]


@pytest.mark.parametrize(("name", "expected"), [
    ("sendmail-real-gave-up.eml", Retry.GAVE_UP), ("sendmail-real-returned.eml", Retry.GAVE_UP), ("sendmail-real-warning.eml", Retry.KEEPS_TRYING),
])
def test_real_sendmail_words_say_it_under_a_subject_that_does_not(name: str, expected: Retry) -> None:
    # Real Sendmail 8.17 notices (tests/e2e/test_sendmail_notices.py): their text alone, as a gateway that rewrote the
    # subject would pass them on, still says whether Sendmail gave up ("permanent fatal errors", "Message will be
    # deleted from queue") or keeps trying ("Will keep trying until message is 1 hour old").
    message = email.message_from_bytes((LHOST / name).read_bytes(), policy=compat32)
    notice = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    payload = notice.get_payload(decode=True)
    assert isinstance(payload, bytes)
    assert said("Mail delivery report", payload.decode()) is expected


def test_qmails_stop_notice_is_taken_out_of_the_failure_text_and_nothing_else() -> None:
    cause = "Unable to contact LDAP server. (#4.4.3)I'm not going to try again; this\nmessage has been in the queue too long."
    assert without_stop_notice(cause).strip() == "Unable to contact LDAP server. (#4.4.3)"
    plain = "Remote host said: 452 4.2.2 Mailbox full"
    assert without_stop_notice(plain) is plain
