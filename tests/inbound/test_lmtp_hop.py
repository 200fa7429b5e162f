"""The LMTP inbound hop: every message passed on unchanged, the next hop's answers per recipient, kill -9 never loses one."""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP

from maild import config
from maild.inbound.lmtp import LmtpHop
from tests.daemon.conftest import MaildProcess, NotifySocket, free_port
from tests.inbound import mail
from tests.inbound.conftest import replied, send

MID = "<m1@helpdesk.example.com>"


@dataclass
class NextHop:
    """The helpdesk mailbox's LMTP server as aiosmtpd runs it: refuses unknown@, keeps what it accepts.

    With `gate` cleared it holds every DATA until the gate opens (a slow mailbox: the message is in flight).
    """

    received: list[tuple[str, tuple[str, ...], bytes]] = field(default_factory=list)
    in_data: threading.Event = field(default_factory=threading.Event)
    gate: threading.Event = field(default_factory=threading.Event)
    cancelled: threading.Event = field(default_factory=threading.Event)  # a held DATA's session went away

    def __post_init__(self) -> None:
        self.gate.set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: ANN001, ANN201
        if address.startswith("unknown@"):
            return f"550 5.1.1 <{address}>: user unknown"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201
        self.in_data.set()
        try:
            await asyncio.to_thread(self.gate.wait, 60)  # cancelled with the session when maild's connection drops
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        self.received.append((envelope.mail_from, tuple(envelope.rcpt_tos), envelope.original_content))
        return "\r\n".join(f"250 2.0.0 <{r}> saved" for r in envelope.rcpt_tos)


class LmtpController(Controller):
    def factory(self):  # noqa: ANN201
        return LMTP(self.handler, hostname="mailbox", decode_data=False)


@pytest.fixture
def next_hop():
    hop = NextHop()
    controller = LmtpController(hop, hostname="127.0.0.1", port=free_port())
    controller.start()
    hop.port = controller.port  # type: ignore[attr-defined]
    yield hop
    hop.gate.set()
    controller.stop()


def lmtp_send(port: int, sender: str, recipients: list[str], raw: bytes, timeout: float = 30) -> list[str]:
    """An LMTP client as an MTA's: LHLO, MAIL, RCPT..., DATA, then one reply per accepted recipient (RFC 2033)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s, s.makefile("rb") as f:

        def reply() -> str:
            lines = []
            while True:
                line = f.readline()
                if not line:
                    raise ConnectionError("connection closed without a reply")
                lines.append(line.decode().rstrip("\r\n"))
                if line[3:4] != b"-":
                    return lines[-1]

        reply()
        s.sendall(b"LHLO client.example.net\r\n")
        reply()
        s.sendall(f"MAIL FROM:<{sender}>\r\n".encode())
        assert reply().startswith("250")
        accepted = 0
        for r in recipients:
            s.sendall(f"RCPT TO:<{r}>\r\n".encode())
            accepted += reply().startswith("250")
        s.sendall(b"DATA\r\n")
        assert reply().startswith("354")
        body = raw.replace(b"\r\n.", b"\r\n..")
        s.sendall(body + (b"" if body.endswith(b"\r\n") else b"\r\n") + b".\r\n")
        finals = [reply() for _ in range(accepted)]
        s.sendall(b"QUIT\r\n")
        return finals


@pytest.fixture
async def hop(store, tmp_path: Path, next_hop):
    settings = config.parse(
        {"inbound": [{"url": "lmtp://127.0.0.1:0", "next_hop": f"lmtp://127.0.0.1:{next_hop.port}",
                      "command_timeout": "10s"}]},
        tmp_path / "maild.toml",
    ).inbound[0]
    source = LmtpHop(settings, store)
    await source.start()
    task = asyncio.create_task(source.run())
    yield source
    await source.stop()
    await asyncio.wait_for(task, 10)


async def test_every_message_is_passed_on_unchanged_and_answered_with_the_next_hops_answers(db, hop, next_hop) -> None:
    send(db, ("alice@example.net", "to"))
    raw = mail.answer("alice@example.net", MID, body="line one\n.starts with a dot\n\nend\n")
    finals = await asyncio.to_thread(
        lmtp_send, hop.port, "alice@example.net", ["support@helpdesk.example.com", "unknown@helpdesk.example.com"], raw)
    assert finals[0] == "250 2.0.0 <support@helpdesk.example.com> saved"
    assert finals[1].startswith("550 5.1.1")  # the next hop's own refusal, for that recipient only
    assert next_hop.received == [("alice@example.net", ("support@helpdesk.example.com",), raw)]
    assert replied(db) == [("alice@example.net", "reply")]  # recorded once the next hop had it
    assert db.execute("SELECT via FROM inbound_replies").fetchall() == [("lmtp",)]


async def test_mail_that_is_no_answer_passes_through_and_records_nothing(db, hop, next_hop) -> None:
    raw = mail.answer("someone@example.org", None, subject="New question")
    finals = await asyncio.to_thread(lmtp_send, hop.port, "someone@example.org", ["support@helpdesk.example.com"], raw)
    assert finals == ["250 2.0.0 <support@helpdesk.example.com> saved"]
    assert [m[2] for m in next_hop.received] == [raw]
    assert db.execute("SELECT count(*) FROM inbound_replies").fetchone()[0] == 0


async def test_a_next_hop_that_is_down_gets_the_sender_a_451_and_nothing_is_recorded(db, store, tmp_path) -> None:
    send(db, ("alice@example.net", "to"))
    settings = config.parse(
        {"inbound": [{"url": "lmtp://127.0.0.1:0", "next_hop": f"lmtp://127.0.0.1:{free_port()}"}]}, tmp_path / "m.toml"
    ).inbound[0]
    source = LmtpHop(settings, store)
    await source.start()
    try:
        finals = await asyncio.to_thread(lmtp_send, source.port, "alice@example.net",
                                         ["a@helpdesk.example.com", "b@helpdesk.example.com"],
                                         mail.answer("alice@example.net", MID))
    finally:
        await source.stop()
    assert finals == ["451 4.4.0 Next hop unavailable, try again later"] * 2
    assert replied(db) == [] and source.failures == 1


def test_kill_9_while_a_message_is_in_flight_never_loses_it(tmp_path: Path, next_hop) -> None:
    """maild is killed while the next hop holds the DATA: the sender got no answer and retries; the message arrives."""
    hop_port = free_port()
    cfg = tmp_path / "maild.toml"
    cfg.write_text(f"""
[store]
path = "var/maild.db"
[intake]
listen = ["127.0.0.1:{free_port()}"]
[tracking]
key_file = "var/token.key"
[http]
listen = ""
[[inbound]]
url = "lmtp://127.0.0.1:{hop_port}"
next_hop = "lmtp://127.0.0.1:{next_hop.port}"
command_timeout = "30s"
""")
    proc = MaildProcess(cfg, 0, 0, NotifySocket(tmp_path / "notify.sock"), tmp_path / "maild.log")
    raw = mail.answer("alice@example.net", MID)
    try:
        proc.start()
        next_hop.gate.clear()
        outcome: list[object] = []

        def attempt() -> None:
            try:
                outcome.append(lmtp_send(hop_port, "alice@example.net", ["support@helpdesk.example.com"], raw))
            except (ConnectionError, OSError, AssertionError) as exc:
                outcome.append(exc)

        first = threading.Thread(target=attempt)
        first.start()
        assert next_hop.in_data.wait(30), "the message never reached the next hop's DATA"
        proc.kill9()
        first.join(30)
        assert len(outcome) == 1 and isinstance(outcome[0], Exception)  # no answer at all: the sender keeps it
        assert next_hop.cancelled.wait(30)  # the next hop's session died with maild's connection: nothing taken
        next_hop.gate.set()
        assert next_hop.received == []

        proc.start()  # the sender's retry finds maild back
        assert lmtp_send(hop_port, "alice@example.net", ["support@helpdesk.example.com"], raw) == [
            "250 2.0.0 <support@helpdesk.example.com> saved"]
        assert [m[2] for m in next_hop.received] == [raw]
    finally:
        proc.stop()
        proc.notify.close()
