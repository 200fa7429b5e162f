"""A real `maild run` killed with SIGKILL between recording a report and moving it out of INBOX, then restarted:
the report is moved once and counted once. A loopback proxy between maild and the private Dovecot holds maild's
MOVE (so the kill lands exactly after the commit); the restarted maild talks to Dovecot through it unhindered."""

from __future__ import annotations

import re
import socket
import sqlite3
import threading
from collections.abc import Iterator

import pytest

from tests.daemon.conftest import MaildProcess, wait_for
from tests.receipts import mail
from tests.servers.dovecot import Dovecot, Mailbox

pytestmark = pytest.mark.integration
MOVE = re.compile(rb"^\S+ UID MOVE ", re.I | re.M)


class HoldingProxy:
    """TCP proxy on 127.0.0.1 that forwards everything, except that while `hold` is set a client line with
    UID MOVE is kept back (never forwarded) and `held` is set."""

    def __init__(self, target_port: int) -> None:
        self.target = target_port
        self.hold = threading.Event()
        self.held = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target), timeout=30)
            self._sockets += [client, server]
            for args in ((client, server, True), (server, client, False)):
                self._threads.append(threading.Thread(target=self._pipe, args=args, daemon=True))
                self._threads[-1].start()

    def _pipe(self, src: socket.socket, dst: socket.socket, from_client: bool) -> None:
        try:
            while data := src.recv(65536):
                if from_client and self.hold.is_set() and MOVE.search(data):
                    self.held.set()
                    return  # swallowed: maild waits for an answer that never comes
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        # close() alone does not wake a thread blocked in accept(): shutdown() does. The threads are joined, so none
        # outlives the test (a later test that forks wants a process with one thread: test_parsestream.py).
        for s in (self.listener, *self._sockets):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        for t in self._threads:
            t.join(30)


@pytest.fixture
def proxy(dovecot: Dovecot) -> Iterator[HoldingProxy]:
    p = HoldingProxy(dovecot.port)
    yield p
    p.close()


def _events(db: str) -> list[tuple[str, int]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        return c.execute("SELECT kind, count(*) FROM events WHERE kind = 'bounced' GROUP BY kind").fetchall()


def test_sigkill_between_commit_and_move_then_restart_moves_once_and_counts_once(
    maild: MaildProcess, sink, dovecot: Dovecot, dovecot_user: Mailbox, proxy: HoldingProxy
) -> None:
    from tests.daemon.test_service import send

    password = dovecot.password_file(dovecot_user, maild.config.parent)
    url = f"imap://{dovecot_user.name}@127.0.0.1:{proxy.port}/INBOX"
    text = maild.config.read_text()
    text = text.replace('url = "maildir:var/receipts"', f'url = "{url}"\npassword_file = "{password}"')
    assert url in text
    maild.config.write_text(text)

    maild.start()
    send(maild.smtp_port, 1)
    wait_for(lambda: len(sink.received) == 1, what="the copy at the upstream")
    token = sink.received[0].sender.split("@")[0].removeprefix("receipts+")
    proxy.hold.set()
    dovecot.append(dovecot_user, mail.dsn(token, "to1@example.net", original_message_id="<svc-1@helpdesk.example.com>"))
    assert proxy.held.wait(60), "maild never sent UID MOVE"
    db = str(maild.config.parent / "var" / "maild.db")
    assert _events(db) == [("bounced", 1)]  # committed before the MOVE, as promised
    maild.kill9()
    assert maild.proc is not None and maild.proc.returncode == -9
    assert dovecot.uids(dovecot_user, "INBOX") == [1]  # not moved

    proxy.hold.clear()
    maild.start()
    wait_for(lambda: dovecot.uids(dovecot_user, "processed") == [1], timeout=60, what="moved after the restart")
    assert dovecot.uids(dovecot_user, "INBOX") == []
    assert _events(db) == [("bounced", 1)]  # the second reading is a duplicate, not a second bounce
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        assert c.execute("SELECT seen, events FROM reports").fetchall() == [(2, 1)]
    assert maild.terminate() == 0
