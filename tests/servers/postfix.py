"""A private Postfix for snippet tests: own main.cf/master.cf in a temporary folder, loopback only.

Follows /work/shared/reference/mailchain.sh: root may run `postfix -c DIR` without
alternate_config_directories, every service has chroot=n, data_directory belongs
to postfix, logs go to DIR/postfix.log. Nothing under /etc is written; the
master is stopped by its PID.
"""

from __future__ import annotations

import os
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP

SNIPPETS = Path(__file__).resolve().parents[2] / "config" / "postfix"

MASTER_BASE = """\
{listen} inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
lmtp      unix  - - n - - lmtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


def postfix_available() -> str | None:
    """Why Postfix tests cannot run here, or None."""
    if shutil.which("postfix") is None or not Path("/usr/lib/postfix/sbin/master").exists():
        return "postfix is not installed (as root: apt-get install -y postfix, see mailchain.sh install)"
    if os.geteuid() != 0:
        return "a private Postfix needs root (postfix -c DIR start)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def snippet(name: str, dir_: Path, ports: dict[int, int]) -> str:
    """A snippet from config/postfix/ with /etc/postfix/ and the documented ports replaced for this instance."""
    text = (SNIPPETS / name).read_text()
    text = text.replace("/etc/postfix/", f"{dir_}/etc/")
    for documented, actual in ports.items():
        text = text.replace(f"127.0.0.1]:{documented}", f"127.0.0.1]:{actual}")
        text = text.replace(f"127.0.0.1:{documented}", f"127.0.0.1:{actual}")
    return text


@dataclass
class PrivatePostfix:
    dir: Path
    port: int
    main_extra: str = ""
    master_extra: str = ""
    maps: dict[str, str] = field(default_factory=dict)  # file name in etc/ -> content

    @property
    def etc(self) -> Path:
        return self.dir / "etc"

    def write(self, default_transport: str = "error:5.7.1 no outbound delivery in tests") -> None:
        for sub in ("etc", "spool", "data"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        shutil.chown(self.dir / "data", "postfix")
        main = f"""\
compatibility_level = 3.6
queue_directory = {self.dir}/spool
data_directory = {self.dir}/data
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
maillog_file = {self.dir}/postfix.log
maillog_file_prefixes = {self.dir}
myhostname = mx.test.example
mydomain = test.example
myorigin = $mydomain
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
alias_maps =
alias_database =
biff = no
smtp_dns_support_level = disabled
default_transport = {default_transport}
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
"""
        (self.etc / "main.cf").write_text(main + "\n" + self.main_extra)
        (self.etc / "master.cf").write_text(MASTER_BASE.format(listen=f"127.0.0.1:{self.port}") + self.master_extra)
        for name, content in self.maps.items():
            (self.etc / name).write_text(content)

    def run(self, *args: str, tool: str = "postfix") -> subprocess.CompletedProcess[str]:
        return subprocess.run([tool, "-c", str(self.etc), *args], capture_output=True, text=True, timeout=60, check=False)

    def start(self) -> None:
        result = self.run("start")
        if result.returncode != 0:
            raise RuntimeError(f"postfix start failed: {result.stderr}\n{self.log()}")
        wait_for(lambda: _banner(self.port), 30, f"postfix on {self.port}")

    def stop(self) -> None:
        pid_file = self.dir / "spool" / "pid" / "master.pid"
        if not pid_file.exists():
            return
        pid = int(pid_file.read_text().strip() or 0)
        self.run("stop")
        deadline = time.monotonic() + 15
        while pid and _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if pid and _alive(pid):
            os.kill(pid, signal.SIGKILL)

    def log(self) -> str:
        p = self.dir / "postfix.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def send(self, sender: str, recipients: list[str], subject: str) -> None:
        body = f"From: <{sender}>\r\nTo: <{recipients[0]}>\r\nSubject: {subject}\r\nMessage-ID: <{subject}@test>\r\n\r\nhello\r\n"
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as client:
            client.sendmail(sender, recipients, body)


def new_dir() -> Path:
    """A folder the postfix user can traverse (pytest's tmp_path is 0700 root)."""
    path = Path(tempfile.mkdtemp(prefix="maild-postfix-", dir="/tmp"))
    path.chmod(0o755)
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _banner(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            return s.recv(512).startswith(b"220")
    except OSError:
        return False


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll a condition with a deadline (no fixed sleeps to synchronise)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


# ------------------------------------------------------------------ sinks standing in for maild


@dataclass(frozen=True)
class Got:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes


class SinkHandler:
    def __init__(self) -> None:
        self.got: list[Got] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            self.got.append(Got(envelope.mail_from, tuple(envelope.rcpt_tos), envelope.original_content or b""))
        return "250 2.0.0 OK"


class Sink(Controller):
    """aiosmtpd (SMTP or LMTP) on 127.0.0.1, port chosen by the kernel before it starts."""

    def __init__(self, lmtp: bool = False) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.lmtp = lmtp
        self.sink = SinkHandler()
        super().__init__(self.sink, hostname="127.0.0.1", port=self._sock.getsockname()[1])

    def _create_server(self) -> Any:
        return self.loop.create_server(self._factory_invoker, sock=self._sock)

    def factory(self) -> Any:
        return (LMTP if self.lmtp else SMTP)(self.handler, hostname="sink.test")
