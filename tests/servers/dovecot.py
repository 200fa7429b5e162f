"""A private Dovecot IMAP server for tests: temp config, passwd-file users, Maildir storage, IMAP and IMAPS on loopback.

Usage (see tests/servers/conftest fixtures or call directly):

    server = Dovecot.start_new()          # raises DovecotMissing when dovecot is not installed
    user = server.add_user()              # a fresh mailbox per test: Mailbox(name, password, home)
    server.append(user, raw_bytes)        # APPEND over IMAP (imaplib, blocking: call via to_thread in async code)
    server.uids(user, "INBOX")            # UIDs in a folder
    server.stop(); server.start()         # a restart keeps the ports and the mail
    server.close()                        # stop and remove the directory

Runs as root with mail owned by uid/gid 5000 (Dovecot refuses uid 0), under a
directory in /tmp that uid 5000 can traverse; own base_dir, state_dir,
instance_name and log_path, so it never meets the system Dovecot.
"""

from __future__ import annotations

import contextlib
import imaplib
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
MAIL_UID = MAIL_GID = 5000
PASSWORD = "receipts-pw"


class DovecotMissing(RuntimeError):
    """dovecot (Debian package dovecot-imapd) is not installed, or we are not root."""


@dataclass(frozen=True)
class Mailbox:
    name: str
    password: str
    home: Path

    @property
    def maildir(self) -> Path:
        return self.home / "Maildir"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def available() -> str | None:
    """None when a private Dovecot can run here, else why not."""
    if not os.path.exists(DOVECOT) or not os.path.exists("/usr/lib/dovecot/imap"):
        return "dovecot is not installed (apt-get install dovecot-imapd)"
    if os.geteuid() != 0:
        return "a private dovecot needs root (it switches to uid 5000 for the mail)"
    if not shutil.which("openssl"):
        return "openssl is not installed (needed for the test certificate)"
    return None


@dataclass
class Dovecot:
    dir: Path
    port: int
    tls_port: int
    host: str = "127.0.0.1"
    proc: subprocess.Popen[bytes] | None = None
    users: list[Mailbox] = field(default_factory=list)
    imap_capability: str | None = None  # what IMAP advertises after login (None: Dovecot's own list)
    _users_mtime: int = 0
    _pool: list[Mailbox] = field(default_factory=list)
    POOL_SIZE = 40

    # ------------------------------------------------------------ lifecycle

    @classmethod
    def start_new(cls, *, imap_capability: str | None = None) -> Dovecot:
        why = available()
        if why:
            raise DovecotMissing(why)
        old = os.umask(0o022)
        try:
            d = Path(tempfile.mkdtemp(prefix="maild-dovecot-", dir="/tmp"))
            d.chmod(0o755)
            for sub in ("run", "state", "ssl", "mail"):
                (d / sub).mkdir()
            subprocess.run(
                ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", "/CN=localhost",
                 "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                 "-keyout", str(d / "ssl/key.pem"), "-out", str(d / "ssl/cert.pem")],
                check=True, capture_output=True, timeout=60,
            )
            (d / "ssl/key.pem").chmod(0o600)
            os.chown(d / "mail", MAIL_UID, MAIL_GID)
        finally:
            os.umask(old)
        port = free_port()
        tls_port = free_port()
        while tls_port == port:
            tls_port = free_port()
        server = cls(d, port, tls_port, imap_capability=imap_capability)
        server._write_config()
        server._pool = [server._create_user() for _ in range(cls.POOL_SIZE)]
        server.start()
        return server

    @property
    def ca_file(self) -> Path:
        return self.dir / "ssl/cert.pem"

    @property
    def log_path(self) -> Path:
        return self.dir / "dovecot.log"

    def _write_config(self) -> None:
        d = self.dir
        (d / "users").write_text("")
        (d / "dovecot.conf").write_text(
            f"""# private test Dovecot for maild, loopback only
base_dir = {d}/run
state_dir = {d}/state
instance_name = maild-test-{d.name}
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{d}/ssl/cert.pem
ssl_key = <{d}/ssl/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
first_valid_uid = 100
first_valid_gid = 100
mail_fsync = never
auth_failure_delay = 0
shutdown_clients = yes
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%n {d}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%n {d}/users
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.tls_port}
    ssl = yes
  }}
}}
protocol imap {{
  mail_max_userip_connections = 100
{f"  imap_capability = {self.imap_capability}" if self.imap_capability else ""}
}}
"""
        )

    def start(self) -> None:
        """Start (or restart after stop()) and wait for the greeting."""
        if self.proc is not None and self.proc.poll() is None:
            return
        log = open(self.dir / "dovecot.out", "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.dir / "dovecot.conf")], stdout=log, stderr=log, stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stop() ends the imap children with the master
        )
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dovecot exited with {self.proc.returncode}: {self._tail()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=2) as s:
                    if s.recv(512).startswith(b"* OK"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"dovecot did not answer on {self.port}: {self._tail()}")

    def stop(self) -> None:
        """Stop the master and its children (TERM, then KILL after 15 s); the mail stays."""
        if self.proc is None or self.proc.poll() is not None:
            return
        pgid = self.proc.pid  # the session leader: its pid is the group id
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        # imap processes outlive the master for a while; end them now, as a machine going down would
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGTERM)
        # the listeners go with the master; wait until the port is really free for a restart
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection((self.host, self.port), timeout=0.5).close()
            except OSError:
                return
            time.sleep(0.05)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _tail(self) -> str:
        text = ""
        for name in ("dovecot.log", "dovecot.out"):
            p = self.dir / name
            if p.exists():
                text += p.read_text(errors="replace")[-2000:]
        return text

    # ------------------------------------------------------------ users and mail

    def add_user(self, name: str | None = None, password: str = PASSWORD) -> Mailbox:
        """A fresh mailbox: one made at start when any is left, else a new passwd-file line.

        Dovecot re-reads the passwd-file when its mtime changes, which it may not
        notice within the same second: the pool made at start avoids that wait.
        """
        if name is None and password == PASSWORD and self._pool:
            box = self._pool.pop(0)
            self.users.append(box)
            return box
        box = self._create_user(name, password)
        # Dovecot compares the passwd-file's mtime in whole seconds: move it on explicitly (never back) instead of
        # sleeping into the next second.
        users = self.dir / "users"
        self._users_mtime = max(int(time.time()), self._users_mtime) + 1
        os.utime(users, (self._users_mtime, self._users_mtime))
        self.users.append(box)
        return box

    def _create_user(self, name: str | None = None, password: str = PASSWORD) -> Mailbox:
        name = name or "u" + secrets.token_hex(4)
        home = self.dir / "mail" / name
        for sub in ("cur", "new", "tmp"):
            (home / "Maildir" / sub).mkdir(parents=True, exist_ok=True)
        for p in (home, home / "Maildir", *(home / "Maildir" / s for s in ("cur", "new", "tmp"))):
            os.chown(p, MAIL_UID, MAIL_GID)
        with open(self.dir / "users", "a") as fh:
            fh.write(f"{name}:{{PLAIN}}{password}:{MAIL_UID}:{MAIL_GID}::{home}::\n")
        return Mailbox(name, password, home)

    def password_file(self, box: Mailbox, folder: Path) -> Path:
        p = folder / f"{box.name}.password"
        p.write_text(box.password + "\n")
        p.chmod(0o600)
        return p

    def url(self, box: Mailbox, folder: str = "INBOX", *, tls: bool = False) -> str:
        scheme, port = ("imaps", self.tls_port) if tls else ("imap", self.port)
        return f"{scheme}://{box.name}@{self.host}:{port}/{folder}"

    def client(self, box: Mailbox) -> imaplib.IMAP4:
        c = imaplib.IMAP4(self.host, self.port, timeout=10)
        c.login(box.name, box.password)
        return c

    def append(self, box: Mailbox, raw: bytes, folder: str = "INBOX") -> int:
        """APPEND one message; returns its UID (UIDPLUS APPENDUID)."""
        with self.client(box) as c:
            typ, data = c.append(_q(folder), None, None, raw)
            if typ != "OK":
                raise RuntimeError(f"APPEND failed: {data}")
            text = data[0].decode()
            return int(text.split("APPENDUID", 1)[1].split()[1].rstrip("]"))

    def uids(self, box: Mailbox, folder: str = "INBOX") -> list[int]:
        """UIDs of the messages in a folder not flagged \\Deleted ([] when the folder does not exist)."""
        with self.client(box) as c:
            typ, _ = c.select(_q(folder), readonly=True)
            if typ != "OK":
                return []
            typ, data = c.uid("SEARCH", "UNDELETED")
            return [int(x) for x in data[0].split()] if data and data[0] else []

    def folders(self, box: Mailbox) -> list[str]:
        with self.client(box) as c:
            typ, data = c.list()
            return sorted(line.decode().rsplit(' "', 1)[-1].strip('"') if line.decode().endswith('"') else line.decode().split()[-1] for line in data)

    def create(self, box: Mailbox, folder: str) -> None:
        with self.client(box) as c:
            c.create(_q(folder))

    def recreate(self, box: Mailbox, folder: str) -> None:
        """DELETE and CREATE a folder: the new one has a new UIDVALIDITY."""
        with self.client(box) as c:
            c.delete(_q(folder))
            c.create(_q(folder))

    def uidvalidity(self, box: Mailbox, folder: str = "INBOX") -> int:
        with self.client(box) as c:
            typ, data = c.status(_q(folder), "(UIDVALIDITY)")
            return int(data[0].decode().split("UIDVALIDITY")[1].strip(" )"))

    def tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))


def _q(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
