"""The open pixel end to end under `maild run`: switched on per department, in the relayed HTML, fetched, shown as read."""

from __future__ import annotations

import json
import re
import smtplib
import urllib.request

from tests.daemon.conftest import free_port, html_reply, maild_cli, wait_for

THUNDERBIRD = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.3.0"


def test_the_pixel_goes_out_for_a_switched_on_department_and_its_fetch_reads(maild, sink):
    pixel_port = free_port()
    text = maild.config.read_text()
    maild.config.write_text(text + f'[pixel]\nlisten = "127.0.0.1:{pixel_port}"\n'
                                   f'base_url = "http://127.0.0.1:{pixel_port}"\nscanner_window = "0s"\n')
    assert maild_cli(maild.config, "departments", "pixel", "Sales", "on").returncode == 0
    maild.start()
    with smtplib.SMTP("127.0.0.1", maild.smtp_port, timeout=20) as client:
        client.sendmail("agent@helpdesk.example.com", ["alice1@example.net"], html_reply("1", "Sales", "px"))
        client.sendmail("agent@helpdesk.example.com", ["alice2@example.net"], html_reply("2", "Billing", "px"))
    wait_for(lambda: len(sink.received) == 2, what="both copies upstream")
    by_ticket = {d.message_id: d.data for d in sink.received}
    assert b"<img" not in by_ticket["<px-2@helpdesk.example.com>"]  # Billing never switched it on
    m = re.search(rb'<img src="(http://127\.0\.0\.1:\d+/o/[a-z0-9]+\.gif)"', by_ticket["<px-1@helpdesk.example.com>"])
    assert m is not None
    request = urllib.request.Request(m.group(1).decode(), headers={"User-Agent": THUNDERBIRD})
    with urllib.request.urlopen(request, timeout=10) as r:
        assert r.status == 200 and r.headers["Content-Type"] == "image/gif" and "Set-Cookie" not in r.headers

    def alice() -> dict[str, object] | None:
        out = maild_cli(maild.config, "status", "1", "--json")
        rcpt = json.loads(out.stdout)["replies"][0]["recipients"][0] if out.returncode == 0 else None
        return rcpt if rcpt and rcpt["read_via"] else None

    rcpt = wait_for(alice, what="the open recorded")
    assert rcpt["state"] == "read" and rcpt["read_via"] == "pixel"
    assert [e["signal"] for e in rcpt["evidence"]] == ["pixel"]
    assert maild.terminate() == 0
