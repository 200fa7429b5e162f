"""A private Request Tracker on 127.0.0.1: Debian's request-tracker5 with its own SQLite database and RT_SiteConfig.

RT reads the site configuration named by RT_SITE_CONFIG and the folder named by
RT_SITE_CONFIG_DIR, so the system's /etc/request-tracker5 (debconf's database
settings) is never read. `rt-setup-database-5 --action init` builds the
SQLite file; RT's standalone server (rt-server, HTTP::Server::PSGI) serves the
web UI and REST2. Mail leaves through `$SendmailPath` (maild-sendmail here).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SETUP = "/usr/sbin/rt-setup-database-5"
SERVER = "/usr/share/request-tracker5/libexec/rt-server"
RT_LIB = "/usr/share/request-tracker5/lib"
RTNAME = "rt.test"
ROOT_PASSWORD = "password"  # RT's initial root password (etc/initialdata)

# Creates the custom field maild writes into (applied to every queue) and an auth token for REST2.
_PREPARE = r"""
use lib '%(lib)s';
use RT; RT::LoadConfig(); RT::Init();
my $cf = RT::CustomField->new(RT->SystemUser);
my ($ok, $msg) = $cf->Create(Name => '%(field)s', Type => 'FreeformSingle', MaxValues => 1,
                             LookupType => RT::Ticket->CustomFieldLookupType);
die "custom field: $msg\n" unless $ok;
($ok, $msg) = $cf->AddToObject(RT::Queue->new(RT->SystemUser));
die "apply custom field: $msg\n" unless $ok;
my $root = RT::User->new(RT->SystemUser); $root->Load('root');
my $t = RT::AuthToken->new(RT->SystemUser);
my ($id, $m, $auth) = $t->Create(Owner => $root->id, Description => 'maild write-back');
die "token: $m\n" unless $id;
print "$auth\n";
"""


def available() -> str | None:
    """None when a private RT can run here, else why not."""
    if not (os.path.exists(SETUP) and os.path.exists(SERVER)):
        return "request-tracker5 is not installed (scripts/test installs request-tracker5 rt5-db-sqlite rt5-standalone as root)"
    if not _has_dbd_sqlite():
        return "rt5-db-sqlite (DBD::SQLite) is not installed"
    if os.geteuid() != 0:
        return "a private RT is set up as root here (scripts/test installs it as root)"
    return None


def _has_dbd_sqlite() -> bool:
    return subprocess.run(["perl", "-MDBD::SQLite", "-e", "1"], capture_output=True, check=False).returncode == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RequestTracker:
    dir: Path
    port: int
    token: str
    field: str
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.dir / "rt.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    @classmethod
    def start_new(cls, base: Path, *, sendmail: list[str], field: str = "maild") -> RequestTracker:
        base.mkdir(parents=True, exist_ok=True)
        for sub in ("RT_SiteConfig.d", "mason", "sessions"):
            (base / sub).mkdir(exist_ok=True)
        port = _free_port()
        program, *args = sendmail
        perl_args = " ".join(args)
        (base / "RT_SiteConfig.pm").write_text(f"""
Set($rtname, '{RTNAME}');
Set($Organization, '{RTNAME}');
Set($CorrespondAddress, 'support@{RTNAME}');
Set($CommentAddress, 'support-comment@{RTNAME}');
Set($WebPath, '');
Set($WebDomain, '127.0.0.1');
Set($WebPort, {port});
Set($WebBaseURL, 'http://127.0.0.1:{port}');
Set($DatabaseType, 'SQLite');
Set($DatabaseName, '{base}/rt.db');
Set($MasonDataDir, '{base}/mason');
Set($MasonSessionDir, '{base}/sessions');
Set($LogToSTDERR, 'warning');
Set($LogToSyslog, undef);
Set($LogToFile, undef);
Set($MailCommand, 'sendmailpipe');
Set($SendmailPath, '{program}');
Set($SendmailArguments, '-oi {perl_args}');
Set($UseOriginatorHeader, 0);
1;
""")
        env = {**os.environ, "RT_SITE_CONFIG": str(base / "RT_SiteConfig.pm"), "RT_SITE_CONFIG_DIR": str(base / "RT_SiteConfig.d")}
        with open(base / "setup.log", "wb") as out:
            subprocess.run([SETUP, "--action", "init", "--skip-create"], env=env, stdout=out, stderr=subprocess.STDOUT,
                           check=True, timeout=300)
            prepared = subprocess.run(["perl", "-e", _PREPARE % {"lib": RT_LIB, "field": field}], env=env,
                                      capture_output=True, check=True, timeout=120)
        token = prepared.stdout.decode().strip().splitlines()[-1]
        log = open(base / "rt.log", "wb")  # noqa: SIM115 - the server's whole life
        proc = subprocess.Popen(
            [SERVER, "--server", "Standalone", "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        rt = cls(base, port, token, field, proc)
        rt._wait_ready()
        return rt

    def _wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"rt-server exited {self.proc.returncode}:\n{self.log()[-3000:]}")
            try:
                self.rest("GET", "/queues/all")
                return
            except (OSError, urllib.error.URLError):
                time.sleep(0.5)
        raise RuntimeError(f"rt-server did not answer in {timeout}s:\n{self.log()[-3000:]}")

    def rest(self, method: str, path: str, body: Any = None, *, basic: bool = False) -> Any:
        """One REST2 call as root (token, or basic auth with RT's initial root password)."""
        data = None if body is None else json.dumps(body).encode()
        auth = ("Basic " + base64.b64encode(f"root:{ROOT_PASSWORD}".encode()).decode()) if basic else f"token {self.token}"
        req = urllib.request.Request(f"{self.url}/REST/2.0{path}", data=data, method=method,
                                     headers={"Authorization": auth, "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read() or b"null")

    def custom_field(self, ticket: str) -> list[str]:
        doc = self.rest("GET", f"/ticket/{ticket}")
        for cf in doc.get("CustomFields", []):
            if cf.get("name") == self.field:
                return list(cf.get("values") or [])
        return []

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        shutil.rmtree(self.dir / "mason", ignore_errors=True)
