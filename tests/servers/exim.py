"""A private Exim from Debian's package, unpacked (never installed) and run on loopback against a scripted remote server.

The system's MTA is Postfix and stays so: `scripts/test` downloads exim4-daemon-light and libidn12 with
`apt-get download` and unpacks them with `dpkg-deb -x` into .cache/exim (or $MAILD_EXIM_ROOT). Exim looks
up its compiled-in user "Debian-exim" at start; nss_wrapper (Debian's libnss-wrapper, LD_PRELOAD) answers
that lookup from a passwd file of our own, so nothing under /etc changes. The private copy has its setuid
bit cleared: we run it as root, and a setuid binary would lose LD_PRELOAD when Exim re-executes itself.
Every delivery goes to 127.0.0.1: the remote domain to the scripted server, our own domain to a sink
that keeps what Exim sends back (its bounces and delay warnings).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.controller import Controller

REPO = Path(__file__).resolve().parents[2]
LIB = "usr/lib/x86_64-linux-gnu"


def exim_root() -> Path:
    return Path(os.environ.get("MAILD_EXIM_ROOT") or REPO / ".cache" / "exim")


def nss_wrapper() -> Path | None:
    for candidate in (Path("/usr") / LIB.removeprefix("usr/") / "libnss_wrapper.so", exim_root() / LIB / "libnss_wrapper.so"):
        if candidate.exists():
            return candidate
    return None


def exim_available() -> str | None:
    """Why the private Exim cannot run here, or None."""
    if not (exim_root() / "usr/sbin/exim4").exists():
        return f"Exim is not unpacked at {exim_root()} (scripts/test does it: apt-get download exim4-daemon-light libidn12; dpkg-deb -x)"
    if nss_wrapper() is None:
        return "libnss_wrapper.so not found (apt-get install libnss-wrapper)"
    if os.geteuid() != 0:
        return "the private Exim runs as root (it switches to its own user for deliveries)"
    return None


class _BoundController(Controller):
    """aiosmtpd's Controller on a socket bound to 127.0.0.1 port 0 before the server starts (a free port, no race)."""

    def __init__(self, handler: object) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        super().__init__(handler, hostname="127.0.0.1", port=self._sock.getsockname()[1])

    def _create_server(self):  # type: ignore[no-untyped-def]
        return self.loop.create_server(self._factory_invoker, sock=self._sock, ssl=self.ssl_context)


Reply = Callable[[str], str | None]  # recipient -> SMTP reply to RCPT (None: accept)


class _Remote:
    def __init__(self, reply: Reply) -> None:
        self.reply = reply

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        answer = self.reply(address)
        if answer is not None:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        return "250 2.0.0 Ok: queued"


@dataclass
class _Sink:
    received: list[bytes] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        with self.arrived:
            self.received.append(envelope.original_content or envelope.content)
            self.arrived.notify_all()
        return "250 2.0.0 Ok"


CONFIG = """\
keep_environment = NSS_WRAPPER_PASSWD : NSS_WRAPPER_GROUP : LD_PRELOAD : LD_LIBRARY_PATH
exim_path = {exim}
primary_hostname = mx.exim.test
spool_directory = {dir}/spool
log_file_path = {dir}/log/%slog
exim_user = Debian-exim
exim_group = Debian-exim
never_users =
domainlist local_domains = {own_domain}
delay_warning = {delay_warning}
delay_warning_condition = true
begin routers
{routers}ours:
  driver = manualroute
  domains = +local_domains
  route_list = * 127.0.0.1::{sink_port} byname
  transport = remote_smtp
  self = send
remote:
  driver = manualroute
  domains = ! +local_domains
  route_list = * 127.0.0.1::{remote_port} byname
  transport = remote_smtp
  self = send
begin transports
remote_smtp:
  driver = smtp
  allow_localhost
  hosts_avoid_tls = *
begin retry
{retry}
"""


class Exim:
    """One private Exim with its spool in `folder`, a scripted remote server and a sink for what comes back."""

    def __init__(self, folder: Path, reply: Reply, *, own_domain: str, retry: str, delay_warning: str = "24h", routers: str = "") -> None:
        self.folder = folder
        self.remote = _BoundController(_Remote(reply))
        self.sink = _Sink()
        self.sink_controller = _BoundController(self.sink)
        self.own_domain = own_domain
        self.retry = retry
        self.delay_warning = delay_warning
        self.routers = routers  # Exim routers tried before the two of CONFIG (a redirect for aliases, say)

    def __enter__(self) -> Exim:
        self.remote.start()
        self.sink_controller.start()
        self.folder.mkdir(mode=0o755, exist_ok=True)
        for sub in ("spool", "log"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
            shutil.chown(self.folder / sub, user="nobody")
        nobody = pwd.getpwnam("nobody")
        passwd = self.folder / "passwd"
        passwd.write_text(Path("/etc/passwd").read_text() + f"Debian-exim:x:{nobody.pw_uid}:{nobody.pw_gid}::/nonexistent:/usr/sbin/nologin\n")
        group = self.folder / "group"
        group.write_text(Path("/etc/group").read_text() + f"Debian-exim:x:{nobody.pw_gid}:\n")
        self.binary = self.folder / "exim4"
        shutil.copy(exim_root() / "usr/sbin/exim4", self.binary)
        self.binary.chmod(0o755)  # without the setuid bit
        self.config = self.folder / "exim.conf"
        self.configure(retry=self.retry, delay_warning=self.delay_warning)
        self.env = {
            "PATH": "/usr/sbin:/usr/bin:/bin", "NSS_WRAPPER_PASSWD": str(passwd), "NSS_WRAPPER_GROUP": str(group),
            "LD_PRELOAD": str(nss_wrapper()), "LD_LIBRARY_PATH": str(exim_root() / LIB),
        }
        return self

    def configure(self, *, retry: str, delay_warning: str) -> None:
        """(Re)write the configuration: every later Exim command (a queue run) reads the new retry rule and warning time."""
        self.retry, self.delay_warning = retry, delay_warning
        self.config.write_text(CONFIG.format(
            exim=self.binary, dir=self.folder, own_domain=self.own_domain, delay_warning=delay_warning, routers=self.routers,
            sink_port=self.sink_controller.port, remote_port=self.remote.port, retry=retry,
        ))

    def __exit__(self, *exc: object) -> None:
        self.remote.stop()
        self.sink_controller.stop()

    def run(self, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([str(self.binary), "-C", str(self.config), *args], input=stdin, env=self.env,
                              capture_output=True, timeout=60, check=False)

    def send(self, sender: str, recipients: list[str], message: bytes) -> None:
        """Submit and attempt delivery in the foreground (-odi), as a local client would."""
        done = self.run("-odi", "-f", sender, *recipients, stdin=message)
        assert done.returncode == 0, done.stderr.decode(errors="replace")

    def queue_run(self) -> None:
        """One forced queue run (-qff), delivering in the foreground."""
        self.run("-qff")

    def wait_for(self, count: int, timeout: float = 20.0) -> list[bytes]:
        """What the sink received, once it holds `count` messages (Exim hands them over in its own time)."""
        with self.sink.arrived:
            self.sink.arrived.wait_for(lambda: len(self.sink.received) >= count, timeout)
            return list(self.sink.received)

    def log(self) -> str:
        path = self.folder / "log" / "mainlog"
        return path.read_text(errors="replace") if path.exists() else ""
