"""kill -9 in the middle of a burst: every message answered 250 still reaches the upstream after restart."""

from __future__ import annotations

import smtplib
import threading
from concurrent.futures import ThreadPoolExecutor

from tests.daemon.conftest import wait_for

BURST = 200


def message(i: int) -> bytes:
    return (
        f"From: agent@helpdesk.example.com\r\nTo: to{i}@example.net\r\nCc: cc{i}@example.net\r\n"
        f"Subject: [#{1000 + i}] reply {i}\r\nMessage-ID: <burst-{i}@helpdesk.example.com>\r\n\r\nbody {i}\r\n"
    ).encode()


def test_kill_9_during_a_burst_loses_nothing_answered_250(maild, sink):
    maild.start()
    accepted: set[int] = set()
    lock = threading.Lock()
    half = threading.Event()

    def send(i: int) -> None:
        try:
            with smtplib.SMTP("127.0.0.1", maild.smtp_port, timeout=20) as client:
                client.sendmail(
                    "agent@helpdesk.example.com", [f"to{i}@example.net", f"cc{i}@example.net"], message(i)
                )
        except (smtplib.SMTPException, OSError):
            return  # refused or cut by the kill: the client would retry; not promised to us
        with lock:
            accepted.add(i)
            if len(accepted) >= BURST // 2:
                half.set()

    with ThreadPoolExecutor(max_workers=10) as pool:
        futures = [pool.submit(send, i) for i in range(BURST)]
        assert half.wait(60), "half the burst was never accepted"
        maild.kill9()
        for f in futures:
            f.result()
    with lock:
        promised = {(f"<burst-{i}@helpdesk.example.com>", f"{kind}{i}@example.net") for i in accepted for kind in ("to", "cc")}
    assert len(promised) >= BURST  # at least half the messages, two recipients each
    assert len(accepted) < BURST  # the kill really cut the burst

    maild.start()
    wait_for(lambda: promised <= sink.pairs(), timeout=120, what="every accepted copy at the upstream")
    assert maild.terminate() == 0
