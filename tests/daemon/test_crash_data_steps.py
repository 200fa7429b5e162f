"""kill -9 while big messages without SIZE= grow their share of a small DATA budget: every 250 survives."""

from __future__ import annotations

import smtplib

from tests.daemon.killrun import Accepted, kill_9_while_sending, restart_delivers

SENDERS = 6
EACH = 4


def message(i: int) -> bytes:
    line = b"x" * 76 + b"\r\n"
    return (
        f"From: agent@helpdesk.example.com\r\nTo: to{i}@example.net\r\n"
        f"Subject: [#{2000 + i}] big reply {i}\r\nMessage-ID: <big-{i}@helpdesk.example.com>\r\n\r\n"
    ).encode() + line * (1_600_000 // len(line))  # about 1.5 MB: more than one step of the budget


def test_kill_9_while_transfers_grow_their_budget_loses_nothing_answered_250(maild, sink):
    text = maild.config.read_text()
    # room for three first steps: the transfers wait for each other, grow, and some are refused (452)
    maild.config.write_text(text.replace("[intake]\n", '[intake]\ndata_memory_budget = "3MB"\n', 1))
    maild.start()

    def send(sender: int, accepted: Accepted) -> None:
        for k in range(EACH):
            i = sender * EACH + k
            try:
                with smtplib.SMTP("127.0.0.1", maild.smtp_port, timeout=60) as client:
                    client.ehlo("helpdesk.example.com")
                    # no SIZE= (smtplib's sendmail would declare it): the transfer reserves step by step
                    code, _ = client.mail("agent@helpdesk.example.com")
                    assert code == 250
                    client.rcpt(f"to{i}@example.net")
                    code, _ = client.data(message(i))
            except (smtplib.SMTPException, OSError):
                return  # cut by the kill: the client would retry; not promised to us
            if code == 250:
                accepted.add(i)

    accepted = kill_9_while_sending(maild, send, SENDERS, workers=SENDERS, enough=6, wait=120,
                                    what="too few big messages were accepted")
    promised = {(f"<big-{i}@helpdesk.example.com>", f"to{i}@example.net") for i in accepted}
    assert len(accepted) < SENDERS * EACH  # the kill really cut the run

    restart_delivers(maild, sink, promised, what="every accepted message at the upstream")
