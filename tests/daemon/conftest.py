"""Fixtures for `maild run` as a real subprocess: free ports, a notify socket, an SMTP sink upstream."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

# The crash tests' shared shape asserts too: pytest shows its failures as it shows a test's own.
pytest.register_assert_rewrite("tests.daemon.killrun")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def html_reply(ticket: object, department: str, id_prefix: str) -> bytes:
    """A helpdesk reply with an HTML part (where a pixel goes), in a department, as the daemon tests send it."""
    m = EmailMessage()
    m["From"] = "agent@helpdesk.example.com"
    m["To"] = f"alice{ticket}@example.net"
    m["Subject"] = f"[#{ticket}] Your invoice"
    m["X-Department"] = department
    m["Message-ID"] = f"<{id_prefix}-{ticket}@helpdesk.example.com>"
    m.set_content("Hello Alice\n")
    m.add_alternative("<html><body><p>Hello Alice</p></body></html>\n", subtype="html")
    return bytes(m).replace(b"\n", b"\r\n")


def maild_cli(config: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """A maild command in its own process on the daemon's configuration, as an operator runs it."""
    return subprocess.run([sys.executable, "-m", "maild", *argv, "--config", str(config)],
                          capture_output=True, text=True, timeout=60)


def wait_for(condition, timeout: float = 30.0, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@dataclass
class Delivered:
    sender: str
    recipients: list[str]
    message_id: str | None
    data: bytes


@dataclass
class Sink:
    """An upstream SMTP server that accepts everything and remembers it."""

    port: int
    received: list[Delivered] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope):
        headers = BytesHeaderParser().parsebytes(envelope.original_content)
        with self.lock:
            self.received.append(
                Delivered(envelope.mail_from, list(envelope.rcpt_tos), headers.get("Message-ID"), envelope.original_content)
            )
        return "250 2.0.0 Ok"

    def pairs(self) -> set[tuple[str, str]]:
        with self.lock:
            return {(d.message_id or "", r) for d in self.received for r in d.recipients}


@pytest.fixture
def sink() -> Iterator[Sink]:
    s = Sink(port=free_port())
    controller = Controller(s, hostname="127.0.0.1", port=s.port)
    controller.start()
    yield s
    controller.stop()


class NotifySocket:
    """The datagram socket systemd would listen on; collects what maild sends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.1)
        self.messages: list[str] = []

    def drain(self) -> list[str]:
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except (TimeoutError, BlockingIOError):
                return self.messages

    def wait(self, text: str, timeout: float = 30.0) -> None:
        wait_for(lambda: any(text in m for m in self.drain()), timeout, what=f"notify {text!r}")

    def close(self) -> None:
        self.sock.close()


@dataclass
class MaildProcess:
    config: Path
    smtp_port: int
    http_port: int
    notify: NotifySocket
    log: Path
    proc: subprocess.Popen | None = None
    env_extra: dict[str, str] = field(default_factory=dict)

    def start(self) -> None:
        env = {**os.environ, "NOTIFY_SOCKET": str(self.notify.path), **self.env_extra}
        self.notify.messages.clear()
        with self.log.open("ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "maild", "run", "--config", str(self.config), "--log-format", "json"],
                env=env, stdout=subprocess.DEVNULL, stderr=log,
            )
        try:
            self.notify.wait("READY=1")
        except AssertionError:
            raise AssertionError(f"maild did not become ready; log:\n{self.log.read_text()[-3000:]}") from None

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self, timeout: float = 60) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def maild(tmp_path: Path, sink: Sink) -> Iterator[MaildProcess]:
    smtp_port, http_port = free_port(), free_port()
    config = tmp_path / "maild.toml"
    config.write_text(
        f"""
[store]
path = "var/maild.db"
[intake]
listen = ["127.0.0.1:{smtp_port}"]
[delivery]
upstream = "smtp://127.0.0.1:{sink.port}"
first_retry = "1s"
max_retry = "2s"
poll_interval = "0.2s"
[tracking]
key_file = "var/token.key"
[[receipts]]
url = "maildir:var/receipts"
poll_interval = "1s"
[http]
listen = "127.0.0.1:{http_port}"
token_file = "var/api.token"
"""
    )
    proc = MaildProcess(config, smtp_port, http_port, NotifySocket(tmp_path / "notify.sock"), tmp_path / "maild.log")
    yield proc
    proc.stop()
    proc.notify.close()
