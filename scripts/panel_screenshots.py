"""Remake docs/panel-*.png: a real `maild run` on a fresh demo store, filled through its own SMTP intake and receipts
Maildir with a realistic thread, photographed by Debian's chromium through Playwright.

    .venv/bin/python scripts/panel_screenshots.py [OUTPUT_DIR]      # default: docs/

Everything runs on 127.0.0.1 in a temporary folder; nothing downloads a browser (MAILD_CHROMIUM names the executable).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiosmtpd.controller import Controller  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from tests.daemon.conftest import MaildProcess, NotifySocket, free_port, wait_for  # noqa: E402
from tests.receipts.mail import dsn, mdn  # noqa: E402
from tests.web.conftest import CHROMIUM, PASSWORDS, DeferringSink, Panel  # noqa: E402


def fill(p: Panel) -> None:
    """Ticket 4711 (Billing): a reply to a customer, a colleague in Cc and a manager in Bcc, then a follow-up."""
    first = p.send("[#4711] Refund for order 88231", ["maria.lopez@example.net"], ["jonas@example.org"],
                   ["team-lead@example.com"])
    p.receive(mdn(p.token(first, "maria.lopez@example.net"), "maria.lopez@example.net", original_message_id=first))
    p.receive(dsn(p.token(first, "team-lead@example.com"), "team-lead@example.com", status="5.2.2",
                  original_message_id=first, mta="mx1.example.com",
                  diagnostic="smtp; 552 5.2.2 <team-lead@example.com>: Mailbox full, quota exceeded"))
    p.token(first, "jonas@example.org")
    second = p.send("[#4711] Re: Refund for order 88231", ["maria.lopez@example.net"])
    p.receive(mdn(p.token(second, "maria.lopez@example.net"), "maria.lopez@example.net", original_message_id=second,
                  disposition="denied"))
    third = p.send("[#4711] Your refund has been issued", ["maria.lopez@example.net"], ["m.lopez@example.biz"])
    p.receive(dsn(p.token(third, "m.lopez@example.biz"), "m.lopez@example.biz", status="5.7.1",
                  original_message_id=third, mta="mx.example.biz",
                  diagnostic="smtp; 550 5.7.1 Message rejected as spam by Content Filtering"))
    p.token(third, "maria.lopez@example.net")
    for i, (dept, who) in enumerate([("Support", "li.wei@example.net"), ("Sales", "sam@example.org")]):
        p.send(f"[#{4800 + i}] Your question", [who], department=dept)
    wait_for(lambda: "4.2.2" not in p.log() and p.cli("status", "4711", "--json").stdout.count('"failure": {') == 2,
             timeout=30, what="both failures recorded")


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs"
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="maild-demo-") as tmp:
        root = Path(tmp)
        sink = DeferringSink(port=free_port())
        controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
        controller.start()
        smtp_port, http_port = free_port(), free_port()
        config = root / "maild.toml"
        config.write_text(f"""
[intake]
listen = ["127.0.0.1:{smtp_port}"]
[delivery]
upstream = "smtp://127.0.0.1:{sink.port}"
poll_interval = "0.2s"
[[receipts]]
url = "maildir:var/receipts"
poll_interval = "0.3s"
[http]
listen = "127.0.0.1:{http_port}"
""")
        proc = MaildProcess(config, smtp_port, http_port, NotifySocket(root / "notify.sock"), root / "maild.log")
        p = Panel(proc, sink, root)
        try:
            p.cli("users", "add", "admin", "--role", "admin", "--password-stdin", stdin=PASSWORDS["admin"] + "\n")
            proc.start()
            fill(p)
            p.cli("departments", "disable", "Support")
            with sync_playwright() as pw:
                args = ["--no-sandbox"] if os.geteuid() == 0 else []
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=args)
                page = browser.new_context(viewport={"width": 1280, "height": 800}, timezone_id="Europe/Berlin").new_page()
                page.goto(p.url + "/ui/login")
                page.fill("input[name=username]", "admin")
                page.fill("input[name=password]", PASSWORDS["admin"])
                page.click("button[type=submit]")
                page.wait_for_url(p.url + "/ui/")
                page.screenshot(path=str(out / "panel-replies.png"))
                page.goto(p.url + "/ui/tickets/4711")
                page.locator('[data-recipient="team-lead@example.com"] summary').first.click()
                page.screenshot(path=str(out / "panel-ticket.png"), full_page=True)
                page.goto(p.url + "/ui/departments")
                page.screenshot(path=str(out / "panel-departments.png"))
                browser.close()
        finally:
            proc.stop()
            proc.notify.close()
            controller.stop()
    for name in ("panel-replies.png", "panel-ticket.png", "panel-departments.png"):
        print(out / name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
