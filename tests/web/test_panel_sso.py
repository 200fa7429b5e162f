"""Single sign-on through a reverse proxy's user header, against a real `maild run` on 127.0.0.1.

The proxy is 127.0.0.2 (the only address in web.trusted_proxy_networks): requests bound to that source
address are the proxy's; the same requests from 127.0.0.1 are anyone's, and their headers are ignored.
"""

from __future__ import annotations

import http.client
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.daemon.conftest import MaildProcess, NotifySocket, free_port

pytestmark = pytest.mark.integration

PROXY = "127.0.0.2"


@dataclass
class Site:
    proc: MaildProcess

    def get(self, path: str, *, source: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
        conn = http.client.HTTPConnection("127.0.0.1", self.proc.http_port, timeout=20, source_address=(source, 0))
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        response.read()
        conn.close()
        return response


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("sso")
    smtp_port, http_port = free_port(), free_port()
    config = root / "maild.toml"
    config.write_text(f"""
[store]
path = "var/maild.db"
[intake]
listen = ["127.0.0.1:{smtp_port}"]
[delivery]
upstream = "maildir:var/outbox"
[tracking]
key_file = "var/token.key"
[[receipts]]
url = "maildir:var/receipts"
[http]
listen = "127.0.0.1:{http_port}"
[web]
trusted_proxy_header = "X-Remote-User"
trusted_proxy_networks = ["{PROXY}/32"]
""")
    for name, role in (("alice", "agent"), ("root-admin", "admin")):
        done = subprocess.run([sys.executable, "-m", "maild", "users", "add", name, "--role", role, "--password-stdin",
                               "--config", str(config)], input="a-password-1\n", capture_output=True, text=True,
                              timeout=60, check=False)
        assert done.returncode == 0, done.stderr
    proc = MaildProcess(config, smtp_port, http_port, NotifySocket(root / "notify.sock"), root / "maild.log")
    proc.start()
    yield Site(proc)
    proc.stop()
    proc.notify.close()


def _cookie(response: http.client.HTTPResponse) -> str:
    return next((v for k, v in response.getheaders() if k.lower() == "set-cookie" and "maild_session=" in v), "")


def test_the_proxy_header_logs_a_known_user_in(site):
    response = site.get("/ui/", source=PROXY, headers={"X-Remote-User": "alice"})
    assert response.status == 200
    cookie = _cookie(response)
    assert cookie.startswith("maild_session=") and "HttpOnly" in cookie and "Secure" not in cookie
    assert '"via": "proxy"' in next(line for line in site.proc.log.read_text().splitlines()
                                    if "web_login" in line and "alice" in line)


def test_the_role_comes_from_the_users_file(site):
    assert site.get("/ui/departments", source=PROXY, headers={"X-Remote-User": "alice"}).status == 403
    assert site.get("/ui/departments", source=PROXY, headers={"X-Remote-User": "root-admin"}).status == 200


def test_the_header_from_anyone_but_the_proxy_is_ignored(site):
    response = site.get("/ui/", source="127.0.0.1", headers={"X-Remote-User": "root-admin"})
    assert response.status == 303 and response.getheader("Location", "").startswith("/ui/login")
    assert _cookie(response) == ""


def test_an_unknown_user_named_by_the_proxy_is_refused(site):
    response = site.get("/ui/", source=PROXY, headers={"X-Remote-User": "mallory"})
    assert response.status == 403 and _cookie(response) == ""
    assert "web_sso_refused" in site.proc.log.read_text()


def test_the_session_follows_the_proxy_when_its_user_changes(site):
    first = _cookie(site.get("/ui/", source=PROXY, headers={"X-Remote-User": "alice"})).split(";", 1)[0]
    response = site.get("/ui/departments", source=PROXY, headers={"X-Remote-User": "root-admin", "Cookie": first})
    assert response.status == 200  # root-admin's page, not alice's session
    assert _cookie(response).split(";", 1)[0] != first
    assert site.get("/ui/departments", source="127.0.0.1", headers={"Cookie": first}).status == 303  # alice's ended


def test_cookies_are_secure_when_the_proxy_terminated_tls(site):
    response = site.get("/ui/", source=PROXY, headers={"X-Remote-User": "alice", "X-Forwarded-Proto": "https"})
    assert "Secure" in _cookie(response)
    login = site.get("/ui/login", source=PROXY, headers={"X-Forwarded-Proto": "https"})
    assert any("maild_login=" in v and "Secure" in v for k, v in login.getheaders() if k.lower() == "set-cookie")
    spoofed = site.get("/ui/login", source="127.0.0.1", headers={"X-Forwarded-Proto": "https"})
    assert not any("Secure" in v for k, v in spoofed.getheaders() if k.lower() == "set-cookie")
