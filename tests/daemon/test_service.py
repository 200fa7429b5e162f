"""`maild run` behaves like a daemon sysadmins trust: readiness, watchdog, SIGTERM, SIGHUP."""

from __future__ import annotations

import signal
import smtplib
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

from tests.daemon.conftest import wait_for


def msg(i: int, department: str = "Billing") -> bytes:
    return (
        f"From: agent@helpdesk.example.com\r\nTo: to{i}@example.net\r\nSubject: [#{i}] r\r\n"
        f"X-Department: {department}\r\nMessage-ID: <svc-{i}@helpdesk.example.com>\r\n\r\nbody\r\n"
    ).encode()


def send(port: int, i: int, department: str = "Billing") -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=20) as client:
        client.sendmail("agent@helpdesk.example.com", [f"to{i}@example.net"], msg(i, department))


def test_ready_is_sent_once_the_smtp_port_accepts(maild):
    maild.start()  # returns when READY=1 arrived
    with socket.create_connection(("127.0.0.1", maild.smtp_port), timeout=5) as s:
        assert s.recv(100).startswith(b"220")
    maild.notify.wait("copies queued")  # STATUS= with the queue size, for `systemctl status`
    assert maild.terminate() == 0
    assert any("STOPPING=1" in m for m in maild.notify.drain())


def test_watchdog_pings_arrive_at_half_the_interval(maild):
    maild.env_extra = {"WATCHDOG_USEC": "400000"}
    maild.start()
    wait_for(lambda: sum("WATCHDOG=1" in m for m in maild.notify.drain()) >= 3, timeout=10, what="3 watchdog pings")
    assert maild.terminate() == 0


def test_sigterm_during_a_burst_loses_nothing_and_exits_0(maild, sink):
    maild.start()
    accepted: set[int] = set()
    lock = threading.Lock()
    some = threading.Event()

    def one(i: int) -> None:
        try:
            send(maild.smtp_port, i)
        except (smtplib.SMTPException, OSError):
            return
        with lock:
            accepted.add(i)
            if len(accepted) >= 40:
                some.set()

    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(one, i) for i in range(150)]
        assert some.wait(60)
        maild.proc.send_signal(signal.SIGTERM)
        for f in futures:
            f.result()
        assert maild.proc.wait(60) == 0
    promised = {(f"<svc-{i}@helpdesk.example.com>", f"to{i}@example.net") for i in accepted}
    if not promised <= sink.pairs():  # what was still queued at the stop goes out after a restart
        maild.start()
        wait_for(lambda: promised <= sink.pairs(), timeout=60, what="every accepted copy at the upstream")
        assert maild.terminate() == 0


def _dnt_of(sink, i: int) -> bool:
    for d in sink.received:
        if f"<svc-{i}@helpdesk.example.com>" == d.message_id:
            return b"\nDisposition-Notification-To:" in b"\n" + d.data
    raise AssertionError("not delivered")


def test_sighup_applies_a_new_department_default_and_keeps_the_old_on_a_broken_file(maild, sink):
    maild.start()
    send(maild.smtp_port, 1, "Support")
    wait_for(lambda: len(sink.received) == 1, what="first copy")
    assert _dnt_of(sink, 1) is True  # receipts_default = true

    original = maild.config.read_text()
    maild.config.write_text(original.replace("[tracking]\n", "[tracking]\nreceipts_default = false\n"))
    maild.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "reloaded" in maild.log.read_text(), what="reload logged")
    send(maild.smtp_port, 2, "Support")
    wait_for(lambda: len(sink.received) == 2, what="second copy")
    assert _dnt_of(sink, 2) is False

    maild.config.write_text("[store\nthis is not toml")
    maild.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "reload_refused" in maild.log.read_text(), what="refusal logged")
    send(maild.smtp_port, 3, "Support")
    wait_for(lambda: len(sink.received) == 3, what="third copy")
    assert _dnt_of(sink, 3) is False  # the reloaded settings stay in force
    assert maild.proc.poll() is None
    assert maild.terminate() == 0


def test_metrics_and_healthz_are_served_and_counters_move(maild, sink):
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    maild.start()
    base = f"http://127.0.0.1:{maild.http_port}"

    def scrape() -> dict[tuple[str, tuple], float]:
        text = urllib.request.urlopen(base + "/metrics", timeout=10).read().decode()
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }

    def total(samples, name):
        return sum(v for (n, _), v in samples.items() if n == name)

    with urllib.request.urlopen(base + "/healthz", timeout=10) as r:
        assert r.status == 200
    before = scrape()
    for i in range(3):
        send(maild.smtp_port, 100 + i)
    wait_for(lambda: len(sink.received) == 3, what="three copies")
    after = scrape()
    accepted = [n for n, _ in after if n.startswith("maild_messages_accepted")]
    assert accepted, sorted({n for n, _ in after})[:50]
    assert total(after, accepted[0]) - total(before, accepted[0]) == 3
    assert after[("maild_imap_fetch_missing_total", ())] == 0
    assert ("maild_queue_recipients", (("state", "accepted"),)) in after
    assert maild.terminate() == 0


def test_sighup_with_a_new_upstream_sends_new_mail_there(maild, sink):
    from aiosmtpd.controller import Controller

    from tests.daemon.conftest import Sink, free_port

    other = Sink(port=free_port())
    controller = Controller(other, hostname="127.0.0.1", port=other.port)
    controller.start()
    try:
        maild.start()
        send(maild.smtp_port, 1)
        wait_for(lambda: len(sink.received) == 1, what="copy at the first upstream")
        maild.config.write_text(maild.config.read_text().replace(f"127.0.0.1:{sink.port}", f"127.0.0.1:{other.port}"))
        maild.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "reloaded" in maild.log.read_text(), what="reload logged")
        send(maild.smtp_port, 2)
        wait_for(lambda: len(other.received) == 1, what="copy at the new upstream")
        assert len(sink.received) == 1
        assert maild.terminate() == 0
    finally:
        controller.stop()


def test_a_part_that_dies_stops_the_daemon_with_exit_1(maild):
    # a webhook secret file that is a folder: the webhook part fails after start-up
    folder = maild.config.parent / "secret-is-a-folder"
    folder.mkdir()
    maild.config.write_text(
        maild.config.read_text() + f'\n[webhooks]\nurls = ["http://127.0.0.1:9/hook"]\nsecret_file = "{folder}"\n'
    )
    maild.start()
    assert maild.proc.wait(30) == 1
    assert "part_failed" in maild.log.read_text()
