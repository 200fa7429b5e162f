"""A switch made while `maild run` relays applies to the next message, whoever made it: the CLI (a process of its
own writing the same SQLite file) or the HTTP API (the daemon's own writer). Intake and delivery hold the
settings in memory (maild.switches), so these fail if a change is ever missed."""

from __future__ import annotations

import json
import smtplib
import urllib.request

from tests.daemon.conftest import free_port, html_reply, maild_cli, wait_for


def test_every_switch_applies_to_the_next_message(maild, sink):
    pixel_port = free_port()
    maild.config.write_text(maild.config.read_text() + f'[pixel]\nlisten = "127.0.0.1:{pixel_port}"\n'
                                                       f'base_url = "http://127.0.0.1:{pixel_port}"\n')
    maild.start()
    token = (maild.config.parent / "var" / "api.token").read_text().strip()
    sent = 0

    def relay(department: str = "Sales") -> bytes:
        """One message through intake; the copy the upstream got."""
        nonlocal sent
        sent += 1
        with smtplib.SMTP("127.0.0.1", maild.smtp_port, timeout=20) as client:
            client.sendmail("agent@helpdesk.example.com", [f"alice{sent}@example.net"], html_reply(sent, department, "sw"))
        wait_for(lambda: len(sink.received) == sent, what=f"copy {sent} upstream")
        (copy,) = [d.data for d in sink.received if d.message_id == f"<sw-{sent}@helpdesk.example.com>"]
        return copy

    def asks_receipt(copy: bytes) -> bool:
        return b"\nDisposition-Notification-To:" in b"\n" + copy

    def api_switch(name: str, enabled: bool) -> None:
        request = urllib.request.Request(
            f"http://127.0.0.1:{maild.http_port}/v1/departments/{name}", method="PUT",
            data=json.dumps({"receipts_enabled": enabled}).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as r:
            assert r.status == 200

    first = relay()
    assert asks_receipt(first) and b"<img" not in first  # the default: receipts on, no pixel
    assert asks_receipt(relay())  # the settings are held now

    done = maild_cli(maild.config, "departments", "disable", "sales")  # another process, another case
    assert done.returncode == 0, done.stderr
    assert not asks_receipt(relay())
    assert asks_receipt(relay("Billing"))  # only Sales switched

    api_switch("Sales", True)  # the daemon's own writer
    assert asks_receipt(relay())

    assert maild_cli(maild.config, "departments", "pixel", "Sales", "on").returncode == 0
    assert b"<img" in relay()
    assert maild_cli(maild.config, "departments", "pixel", "Sales", "off").returncode == 0
    assert b"<img" not in relay()

    api_switch("Sales", False)
    assert not asks_receipt(relay())
    assert maild.terminate() == 0
