"""A private Sendmail from Debian's packages, unpacked (never installed) and run on loopback against a scripted remote server.

The system's MTA is Postfix and stays so: `scripts/test` downloads sendmail-bin, sendmail-cf and m4 with
`apt-get download` and unpacks them with `dpkg-deb -x` into .cache/sendmail (or $MAILD_SENDMAIL_ROOT). The
configuration is built per run with Sendmail's own m4 macros (a smart host [127.0.0.1] on the scripted
server's port, a private queue, aliases, hosts and service switch files), so nothing under /etc is read or
changed. Sendmail resolves its own host name through libc at start; nss_wrapper (LD_PRELOAD) answers from a
hosts file of ours, so no DNS is asked. The private binary has its setgid bit cleared: we run it as root, and
a setgid binary would lose LD_PRELOAD. Every message goes to the one scripted server: it answers RCPT TO per
address and keeps what Sendmail sends back (MAIL FROM:<>: its bounces, warnings and relay notices).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

from tests.servers.exim import REPO, Reply, _BoundController, nss_wrapper

HOSTNAME = "mx.sendmail.test"


def sendmail_root() -> Path:
    return Path(os.environ.get("MAILD_SENDMAIL_ROOT") or REPO / ".cache" / "sendmail")


def sendmail_available() -> str | None:
    """Why the private Sendmail cannot run here, or None."""
    root = sendmail_root()
    if not (root / "usr/libexec/sendmail/sendmail").exists() or not (root / "usr/bin/m4").exists():
        return f"Sendmail is not unpacked at {root} (scripts/test does it: apt-get download sendmail-bin sendmail-cf m4; dpkg-deb -x)"
    if nss_wrapper() is None:
        return "libnss_wrapper.so not found (apt-get install libnss-wrapper)"
    if os.geteuid() != 0:
        return "the private Sendmail runs as root (its queue and configuration must be root's)"
    return None


@dataclass
class _Scripted:
    """The remote server: a scripted answer to RCPT TO per address; what arrives with a null sender is kept."""

    reply: Reply
    returned: list[bytes] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        answer = self.reply(address) if envelope.mail_from else None
        if answer is not None:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        if not envelope.mail_from or envelope.mail_from == "<>":
            with self.arrived:
                self.returned.append(envelope.original_content or envelope.content)
                self.arrived.notify_all()
        return "250 2.0.0 Ok: queued"


MC = """divert(-1)
divert(0)dnl
include(`{cf}/m4/cf.m4')dnl
VERSIONID(`maild tests')dnl
OSTYPE(`linux')dnl
define(`confDOMAIN_NAME', `{hostname}')dnl
define(`SMART_HOST', `[127.0.0.1]')dnl
define(`RELAY_MAILER_ARGS', `TCP $h {port}')dnl
define(`ESMTP_MAILER_ARGS', `TCP $h {port}')dnl
define(`SMTP_MAILER_ARGS', `TCP $h {port}')dnl
define(`confDONT_PROBE_INTERFACES', `True')dnl
define(`QUEUE_DIR', `{dir}/queue')dnl
define(`STATUS_FILE', `{dir}/statistics')dnl
define(`confPID_FILE', `{dir}/sendmail.pid')dnl
define(`ALIAS_FILE', `{dir}/aliases')dnl
define(`confSERVICE_SWITCH_FILE', `{dir}/service.switch')dnl
define(`confHOSTS_FILE', `{dir}/hosts')dnl
define(`confHOST_STATUS_DIRECTORY', `')dnl
define(`confTO_QUEUEWARN', `{queuewarn}')dnl
define(`confTO_QUEUERETURN', `1h')dnl
define(`confMIN_QUEUE_AGE', `0')dnl
define(`confDELIVERY_MODE', `queueonly')dnl
FEATURE(`nocanonify')dnl
MAILER(`smtp')dnl
"""


class Sendmail:
    """One private Sendmail with its queue in `folder` and the scripted remote server it relays everything to."""

    def __init__(self, folder: Path, reply: Reply, *, queuewarn: str = "1h") -> None:
        self.folder = folder
        self.remote = _Scripted(reply)
        self.controller = _BoundController(self.remote)
        self.queuewarn = queuewarn

    def __enter__(self) -> Sendmail:
        self.controller.start()
        self.folder.mkdir(mode=0o700, exist_ok=True)
        (self.folder / "queue").mkdir(mode=0o700, exist_ok=True)
        (self.folder / "hosts").write_text(f"127.0.0.1 {HOSTNAME} localhost\n")
        (self.folder / "service.switch").write_text("hosts files\naliases files\n")
        (self.folder / "aliases").write_text("postmaster: root\n")
        shutil.copy("/etc/passwd", self.folder / "passwd")
        shutil.copy("/etc/group", self.folder / "group")
        root = sendmail_root()
        self.binary = self.folder / "sendmail"
        shutil.copy(root / "usr/libexec/sendmail/sendmail", self.binary)
        self.binary.chmod(0o755)  # without the setgid bit
        mc = self.folder / "test.mc"
        mc.write_text(MC.format(cf=root / "usr/share/sendmail/cf", hostname=HOSTNAME, port=self.controller.port,
                                dir=self.folder, queuewarn=self.queuewarn))
        built = subprocess.run([str(root / "usr/bin/m4"), str(mc)], capture_output=True, text=True, timeout=30, check=False)
        assert built.returncode == 0, built.stderr
        self.config = self.folder / "test.cf"
        self.config.write_text(built.stdout)
        self.env = {
            "PATH": "/usr/bin:/bin", "NSS_WRAPPER_PASSWD": str(self.folder / "passwd"),
            "NSS_WRAPPER_GROUP": str(self.folder / "group"), "NSS_WRAPPER_HOSTS": str(self.folder / "hosts"),
            "NSS_WRAPPER_HOSTNAME": HOSTNAME, "LD_PRELOAD": str(nss_wrapper()),
        }
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    def run(self, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([str(self.binary), "-C", str(self.config), *args], input=stdin, env=self.env,
                              capture_output=True, timeout=60, check=False)

    def send(self, sender: str, recipients: list[str], message: bytes, *, envid: str) -> None:
        """Queue a message as maild's delivery asks for it: NOTIFY=SUCCESS,FAILURE,DELAY, RET=HDRS, ENVID."""
        done = self.run("-odq", "-f", sender, "-N", "success,failure,delay", "-R", "hdrs", "-V", envid, *recipients, stdin=message)
        assert done.returncode == 0, done.stderr.decode(errors="replace")

    def queue_run(self, *options: str) -> str:
        """One queue run in the foreground (-q -v), with `-O` options for this run only; its transcript."""
        done = self.run(*(f"-O{o}" for o in options), "-q", "-v")
        return (done.stdout + done.stderr).decode(errors="replace")

    def wait_for(self, count: int, timeout: float = 20.0) -> list[bytes]:
        """What came back, once the scripted server holds `count` messages with a null sender."""
        with self.remote.arrived:
            self.remote.arrived.wait_for(lambda: len(self.remote.returned) >= count, timeout)
            return list(self.remote.returned)
