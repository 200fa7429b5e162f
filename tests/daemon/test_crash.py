"""kill -9 in the middle of a burst: every message answered 250 still reaches the upstream after restart."""

from __future__ import annotations

import smtplib

from tests.daemon.killrun import Accepted, kill_9_while_sending, restart_delivers

BURST = 200


def message(i: int) -> bytes:
    return (
        f"From: agent@helpdesk.example.com\r\nTo: to{i}@example.net\r\nCc: cc{i}@example.net\r\n"
        f"Subject: [#{1000 + i}] reply {i}\r\nMessage-ID: <burst-{i}@helpdesk.example.com>\r\n\r\nbody {i}\r\n"
    ).encode()


def test_kill_9_during_a_burst_loses_nothing_answered_250(maild, sink):
    maild.start()

    def send(i: int, accepted: Accepted) -> None:
        try:
            with smtplib.SMTP("127.0.0.1", maild.smtp_port, timeout=20) as client:
                client.sendmail(
                    "agent@helpdesk.example.com", [f"to{i}@example.net", f"cc{i}@example.net"], message(i)
                )
        except (smtplib.SMTPException, OSError):
            return  # refused or cut by the kill: the client would retry; not promised to us
        accepted.add(i)

    accepted = kill_9_while_sending(maild, send, BURST, workers=10, enough=BURST // 2, wait=60,
                                    what="half the burst was never accepted")
    promised = {(f"<burst-{i}@helpdesk.example.com>", f"{kind}{i}@example.net") for i in accepted for kind in ("to", "cc")}
    assert len(promised) >= BURST  # at least half the messages, two recipients each
    assert len(accepted) < BURST  # the kill really cut the burst

    restart_delivers(maild, sink, promised, what="every accepted copy at the upstream")
