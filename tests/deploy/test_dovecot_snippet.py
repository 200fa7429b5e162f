"""config/dovecot/maild-receipts.conf: valid for doveconf, and a private Dovecot serves the receipts
mailbox with its processed and quarantine folders (loopback only, stopped by PID)."""

from __future__ import annotations

import imaplib
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers.postfix import free_port, new_dir, wait_for

SNIPPET = Path(__file__).resolve().parents[2] / "config" / "dovecot" / "maild-receipts.conf"
MAIL_UID = 5000  # need not exist in /etc/passwd (as mailchain.sh)
PASSWORD = "receipts-test-pw"

pytestmark = pytest.mark.skipif(
    shutil.which("dovecot") is None or shutil.which("doveconf") is None or os.geteuid() != 0,
    reason="needs root and Dovecot (as root: apt-get install -y dovecot-imapd)",
)


@dataclass
class PrivateDovecot:
    dir: Path
    port: int

    @property
    def conf(self) -> Path:
        return self.dir / "dovecot.conf"


def write_config(d: Path, port: int) -> PrivateDovecot:
    for sub in ("run", "state", "etc", "mail/receipts/Maildir/cur", "mail/receipts/Maildir/new", "mail/receipts/Maildir/tmp"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    for root, dirs, _files in os.walk(d / "mail"):
        for name in [root, *(os.path.join(root, x) for x in dirs)]:
            os.chown(name, MAIL_UID, MAIL_UID)
    (d / "etc" / "maild-receipts.conf").write_text(SNIPPET.read_text().replace("/etc/dovecot/", f"{d}/etc/"))
    users = d / "etc" / "maild-receipts.passwd"
    users.write_text(f"receipts:{{PLAIN}}{PASSWORD}:{MAIL_UID}:{MAIL_UID}::{d}/mail/receipts::\n")
    users.chmod(0o640)
    shutil.chown(users, group="dovecot")
    (d / "dovecot.conf").write_text(f"""\
base_dir = {d}/run
state_dir = {d}/state
instance_name = maild-test-{d.name}
log_path = {d}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 100
mail_fsync = never
namespace inbox {{
  inbox = yes
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
!include {d}/etc/maild-receipts.conf
""")
    return PrivateDovecot(d, port)


@pytest.fixture
def dovecot() -> Iterator[PrivateDovecot]:
    d = new_dir()
    try:
        yield write_config(d, free_port())
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_snippet_is_valid_for_doveconf(dovecot: PrivateDovecot) -> None:
    result = subprocess.run(["doveconf", "-c", str(dovecot.conf), "-n"], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "mailbox quarantine" in result.stdout and "mailbox processed" in result.stdout


def test_receipts_user_logs_in_and_sees_processed_and_quarantine(dovecot: PrivateDovecot) -> None:
    proc = subprocess.Popen(
        ["dovecot", "-F", "-c", str(dovecot.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for(lambda: _greets(dovecot.port), 30, f"dovecot on {dovecot.port}")
        with imaplib.IMAP4("127.0.0.1", dovecot.port, timeout=30) as imap:
            imap.login("receipts", PASSWORD)
            status, lines = imap.list()
            assert "IDLE" in imap.capabilities
        folders = {line.decode().rsplit(" ", 1)[-1].strip('"') for line in lines if line}
        assert status == "OK"
        assert {"INBOX", "processed", "quarantine"} <= folders
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _greets(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            return s.recv(512).startswith(b"* OK")
    except OSError:
        return False
