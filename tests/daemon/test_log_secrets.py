"""The README's promise "bodies, token secrets and AUTH data are never logged", held against a real `maild run` at
debug level: mail relayed, API calls with the right and a wrong bearer token, webhooks signed and sent, a DSN
ingested, keys rotated and reloaded. None of the secrets, nor the body, appear anywhere in the log."""

from __future__ import annotations

import signal
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from maild.cli import main
from tests.daemon.conftest import wait_for
from tests.receipts import mail

BODY_MARKER = "body-text-that-must-never-be-logged-7f3a"
WRONG_TOKEN = "wrong-bearer-token-that-must-never-be-logged-91c2"


class _Hook(BaseHTTPRequestHandler):
    posts: list[bytes] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        _Hook.posts.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_no_secret_and_no_body_in_the_log(maild, sink, capsys) -> None:
    hook = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    try:
        maild.config.write_text(maild.config.read_text() + f"""
[log]
level = "debug"
[webhooks]
urls = ["http://127.0.0.1:{hook.server_address[1]}/hook"]
secret_file = "var/webhook.secret"
poll_interval = "0.1s"
""")
        maild.start()
        import smtplib

        with smtplib.SMTP("127.0.0.1", maild.smtp_port, timeout=20) as client:
            client.sendmail("agent@helpdesk.example.com", ["to1@example.net"], (
                "From: agent@helpdesk.example.com\r\nTo: to1@example.net\r\nSubject: [#1] r\r\n"
                f"Message-ID: <sec-1@helpdesk.example.com>\r\n\r\n{BODY_MARKER}\r\n").encode())
        wait_for(lambda: len(sink.received) == 1, what="the copy at the upstream")
        token = sink.received[0].sender.split("@")[0].removeprefix("receipts+")

        var = maild.config.parent / "var"
        api_token = (var / "api.token").read_text().strip()
        base = f"http://127.0.0.1:{maild.http_port}"
        ok = urllib.request.Request(f"{base}/v1/tickets/1", headers={"Authorization": f"Bearer {api_token}"})
        with urllib.request.urlopen(ok, timeout=10) as r:
            assert r.status == 200
        bad = urllib.request.Request(f"{base}/v1/tickets/1", headers={"Authorization": f"Bearer {WRONG_TOKEN}"})
        try:
            with urllib.request.urlopen(bad, timeout=10):
                raise AssertionError("a wrong token was accepted")
        except urllib.error.HTTPError as e:
            assert e.code == 401
            e.close()

        (var / "receipts" / "new" / "1.dsn").write_bytes(
            mail.dsn(token, "to1@example.net", original_message_id="<sec-1@helpdesk.example.com>"))
        wait_for(lambda: any(b'"bounced"' in p for p in _Hook.posts), what="the bounce posted to the webhook")

        assert main(["keys", "rotate", "--config", str(maild.config)]) == 0
        maild.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: '"reloaded"' in maild.log.read_text(), what="reload logged")
        assert maild.terminate() == 0
    finally:
        hook.shutdown()
        hook.server_close()
    capsys.readouterr()

    log = maild.log.read_text()
    assert '"level": "debug"' in log or '"level":"debug"' in log  # debug really was on
    secrets = {
        "API token": api_token,
        "webhook secret": (var / "webhook.secret").read_text().strip(),
        "wrong bearer token": WRONG_TOKEN,
        "message body": BODY_MARKER,
    }
    for line in (var / "token.key").read_text().splitlines():
        if line and not line.startswith("#"):
            secrets[f"token key {line[0]}"] = line.split(":", 1)[1]
    assert len(secrets) >= 6
    for what, value in secrets.items():
        assert value not in log, f"the log contains the {what}"
