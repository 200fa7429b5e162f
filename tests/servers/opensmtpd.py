"""A private OpenSMTPD from Debian's package, unpacked (never installed) and run in its own mount namespace on loopback.

OpenSMTPD 6.8 compiles in its paths (/var/spool/smtpd, the control socket under /run, the chroot
/var/lib/opensmtpd/empty): `unshare -m` gives it a mount namespace of its own in which tmpfs covers /var/spool,
/run and /var/lib, so it writes nothing to the machine's own folders and never meets the system's Postfix.
Its users opensmtpd/opensmtpq come from a passwd file of ours through nss_wrapper (LD_PRELOAD; smtpd is not
setuid). It listens on a free 127.0.0.1 port and relays every message to the scripted server, which answers
RCPT TO per address and keeps what OpenSMTPD sends back. `scripts/test` unpacks it into .cache/opensmtpd.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from tests.servers.exim import REPO, Reply, _BoundController, nss_wrapper
from tests.servers.sendmail import _Scripted

HOSTNAME = "mx.opensmtpd.test"


def opensmtpd_root() -> Path:
    return Path(os.environ.get("MAILD_OPENSMTPD_ROOT") or REPO / ".cache" / "opensmtpd")


def opensmtpd_available() -> str | None:
    """Why the private OpenSMTPD cannot run here, or None."""
    if not (opensmtpd_root() / "usr/sbin/smtpd").exists():
        return f"OpenSMTPD is not unpacked at {opensmtpd_root()} (scripts/test does it: apt-get download opensmtpd; dpkg-deb -x)"
    if nss_wrapper() is None:
        return "libnss_wrapper.so not found (apt-get install libnss-wrapper)"
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return "the private OpenSMTPD needs root and unshare(1) for its own mount namespace"
    return None


CONFIG = """\
queue ttl {ttl}
bounce warn-interval {warn}
listen on 127.0.0.1 port {port} hostname {hostname}
action "remote" relay host smtp://127.0.0.1:{remote_port}
match from any for any action "remote"
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class OpenSMTPD:
    """One private smtpd (foreground, -d) with its files in `folder`, and the scripted remote server."""

    def __init__(self, folder: Path, reply: Reply, *, ttl: str = "6s", warn: str = "2s") -> None:
        self.folder = folder
        self.remote = _Scripted(reply)
        self.controller = _BoundController(self.remote)
        self.ttl, self.warn = ttl, warn
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> OpenSMTPD:
        self.controller.start()
        self.folder.mkdir(mode=0o700, exist_ok=True)
        (self.folder / "passwd").write_text(
            Path("/etc/passwd").read_text()
            + "opensmtpd:x:65534:65534::/nonexistent:/usr/sbin/nologin\nopensmtpq:x:65534:65534::/nonexistent:/usr/sbin/nologin\n"
        )
        (self.folder / "group").write_text(Path("/etc/group").read_text() + "opensmtpd:x:65534:\nopensmtpq:x:65534:\n")
        self.port = _free_port()
        config = self.folder / "smtpd.conf"
        config.write_text(CONFIG.format(ttl=self.ttl, warn=self.warn, port=self.port, hostname=HOSTNAME,
                                        remote_port=self.controller.port))
        env = {
            "PATH": "/usr/sbin:/usr/bin:/bin", "LD_PRELOAD": str(nss_wrapper()), "NSS_WRAPPER_PASSWD": str(self.folder / "passwd"),
            "NSS_WRAPPER_GROUP": str(self.folder / "group"), "NSS_WRAPPER_HOSTNAME": HOSTNAME,
        }
        inside = (
            "mount -t tmpfs none /var/spool && mount -t tmpfs none /run && mount -t tmpfs none /var/lib && "
            f"mkdir -p /var/lib/opensmtpd/empty && exec {opensmtpd_root() / 'usr/sbin/smtpd'} -d -f {config}"
        )
        self.log_path = self.folder / "smtpd.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", inside],
                                            env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return self
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.05)  # smtpd has not bound its port yet: a readiness poll, not a synchronisation
        self.__exit__()
        raise RuntimeError(f"OpenSMTPD did not start: {self.log()}")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.controller.stop()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_until(self, done: Callable[[list[bytes]], bool], timeout: float = 30.0) -> list[bytes]:
        """What came back, once `done` says it is all there (OpenSMTPD sends its notices in its own time)."""
        with self.remote.arrived:
            self.remote.arrived.wait_for(lambda: done(list(self.remote.returned)), timeout)
            return list(self.remote.returned)
