"""A real `maild run` with the panel, an SMTP sink upstream, users of both roles, and Debian's chromium via Playwright."""

from __future__ import annotations

import os
import smtplib
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.daemon.conftest import MaildProcess, NotifySocket, Sink, free_port, wait_for

CHROMIUM = os.environ.get("MAILD_CHROMIUM", "/usr/bin/chromium")
PASSWORDS = {"admin": "admin-password-1", "agent": "agent-password-1"}


class DeferringSink(Sink):
    """The sink, but addresses starting with "slow" get 451 at RCPT: their copies stay in maild's queue."""

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if address.startswith("slow"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"


@dataclass
class Panel:
    """The running daemon as the browser tests see it."""

    proc: MaildProcess
    sink: DeferringSink
    root: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.proc.http_port}"

    def send(self, subject: str, to: list[str], cc: list[str] = (), bcc: list[str] = (), *,  # type: ignore[assignment]
             department: str = "Billing", ticket: str | None = None) -> str:
        """Relay one reply through maild's own SMTP intake; returns its Message-ID."""
        mid = f"<{uuid.uuid4().hex}@helpdesk.example.com>"
        lines = ["From: agent@helpdesk.example.com", f"To: {', '.join(to)}"]
        if cc:
            lines.append(f"Cc: {', '.join(cc)}")
        lines += [f"Subject: {subject}", f"X-Department: {department}", f"Message-ID: {mid}"]
        if ticket:
            lines.append(f"X-Ticket-ID: {ticket}")
        raw = ("\r\n".join(lines) + "\r\n\r\nHello\r\n").encode()
        with smtplib.SMTP("127.0.0.1", self.proc.smtp_port, timeout=20) as client:
            client.sendmail("agent@helpdesk.example.com", [*to, *cc, *bcc], raw)
        return mid

    def token(self, message_id: str, address: str) -> str:
        """The tracking token of one copy, from the envelope sender the upstream saw."""
        def find() -> str | None:
            with self.sink.lock:
                for d in self.sink.received:
                    if d.message_id == message_id and address in d.recipients:
                        return d.sender.split("+", 1)[1].split("@", 1)[0]
            return None
        return wait_for(find, timeout=30, what=f"the copy to {address} at the upstream")

    def receive(self, raw: bytes) -> None:
        """Drop one report into the receipts Maildir, as a local delivery agent would (tmp/, then new/)."""
        box = self.root / "var" / "receipts"
        for sub in ("tmp", "new", "cur"):
            (box / sub).mkdir(parents=True, exist_ok=True)
        name = f"{uuid.uuid4().hex}.test"
        (box / "tmp" / name).write_bytes(raw)
        os.rename(box / "tmp" / name, box / "new" / name)

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "maild", *args, "--config", str(self.proc.config)],
            input=stdin, capture_output=True, text=True, timeout=60, check=False,
        )

    def log(self) -> str:
        return self.proc.log.read_text()


@pytest.fixture(scope="module")
def panel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Panel]:
    root = tmp_path_factory.mktemp("panel")
    sink = DeferringSink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    smtp_port, http_port = free_port(), free_port()
    config = root / "maild.toml"
    config.write_text(f"""
[store]
path = "var/maild.db"
[intake]
listen = ["127.0.0.1:{smtp_port}"]
[delivery]
upstream = "smtp://127.0.0.1:{sink.port}"
first_retry = "1h"
poll_interval = "0.2s"
[tracking]
key_file = "var/token.key"
[[receipts]]
url = "maildir:var/receipts"
poll_interval = "0.3s"
[http]
listen = "127.0.0.1:{http_port}"
[web]
live_interval = "0.5s"
embed_frame_ancestors = ["http://helpdesk.example.com"]
""")
    proc = MaildProcess(config, smtp_port, http_port, NotifySocket(root / "notify.sock"), root / "maild.log")
    p = Panel(proc, sink, root)
    for role, password in PASSWORDS.items():
        done = p.cli("users", "add", role, "--role", role, "--password-stdin", stdin=password + "\n")
        assert done.returncode == 0, done.stderr
    proc.start()
    yield p
    proc.stop()
    proc.notify.close()
    controller.stop()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():  # a failure where the run must be complete (tests/support/skip_policy.py)
        pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium, or set MAILD_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        # Debian's chromium by its path: Playwright never downloads a browser here. As root it needs --no-sandbox.
        args = ["--no-sandbox"] if os.geteuid() == 0 else []
        b = pw.chromium.launch(executable_path=CHROMIUM, args=args)
        yield b
        b.close()


class Browser:
    """The module's chromium, with contexts that close at the end of each test (open live pages hold connections)."""

    def __init__(self, chromium: Any) -> None:
        self._chromium = chromium
        self.contexts: list[Any] = []

    def new_context(self, **options: Any) -> Any:
        ctx = self._chromium.new_context(**options)
        self.contexts.append(ctx)
        return ctx


@pytest.fixture
def browser(chromium: Any) -> Iterator[Browser]:
    b = Browser(chromium)
    yield b
    for ctx in b.contexts:
        ctx.close()


def login(browser: Any, panel: Panel, role: str, **context: Any) -> Any:
    """A fresh browser context logged in as `role`; returns its page (on the replies list)."""
    ctx = browser.new_context(**context)
    page = ctx.new_page()
    page.goto(panel.url + "/ui/")
    assert "/ui/login" in page.url
    page.fill("input[name=username]", role)
    page.fill("input[name=password]", PASSWORDS[role])
    page.click("button[type=submit]")
    page.wait_for_url(panel.url + "/ui/")
    return page


