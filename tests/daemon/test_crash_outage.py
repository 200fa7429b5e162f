"""kill -9 of a real `maild run` while the store cannot write: the copies answered meanwhile do not go out again.

The upstream holds its answers until every copy is on the wire and the test
has taken the store's write lock (as another process would), then answers
250: maild cannot record those outcomes, keeps them (in memory and in the
outcome journal) and is killed.
After the lock is released and maild restarts, the journal is recorded before
anything is picked: the upstream sees every recipient exactly once.
"""

from __future__ import annotations

import asyncio
import smtplib
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from aiosmtpd.controller import Controller

from maild.delivery.journal import read_records
from tests.daemon.conftest import Sink, free_port, wait_for

MESSAGES = 6


@dataclass
class GatedSink(Sink):
    """The upstream, answering DATA only once `gate` is open."""

    gate: threading.Event = field(default_factory=threading.Event)
    arrived: int = 0

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        with self.lock:
            self.arrived += 1
        await asyncio.to_thread(self.gate.wait, 60)  # the other sessions go on to their own DATA meanwhile
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def sink() -> Iterator[GatedSink]:
    s = GatedSink(port=free_port())
    controller = Controller(s, hostname="127.0.0.1", port=s.port)
    controller.start()
    yield s
    s.gate.set()
    controller.stop()


def test_kill_9_while_the_store_is_locked_sends_no_answered_copy_again(maild, sink: GatedSink, tmp_path):
    maild.config.write_text(maild.config.read_text().replace(
        'path = "var/maild.db"', 'path = "var/maild.db"\nbusy_timeout = "0.3s"'))
    maild.start()
    db, journal = tmp_path / "var" / "maild.db", tmp_path / "var" / "maild.db-outcomes"
    with smtplib.SMTP("127.0.0.1", maild.smtp_port, timeout=20) as client:
        for i in range(MESSAGES):
            client.sendmail("agent@helpdesk.example.com", [f"to{i}@example.net"],
                            (f"From: agent@helpdesk.example.com\r\nTo: to{i}@example.net\r\nSubject: [#{700 + i}] r\r\n"
                             f"Message-ID: <outage-{i}@helpdesk.example.com>\r\n\r\nbody {i}\r\n").encode())
    # Every copy on the wire, waiting for its answer: so each is answered while the lock is held, none after the kill.
    wait_for(lambda: sink.arrived == MESSAGES, timeout=60, what="every copy at the upstream, waiting for its answer")
    other = sqlite3.connect(db, isolation_level=None, timeout=10)
    other.execute("BEGIN IMMEDIATE")  # the store's write lock, held as another process would
    try:
        sink.gate.set()  # the upstream answers 250 now; maild cannot record it
        wait_for(lambda: len(sink.pairs()) == MESSAGES, timeout=30, what="the upstream's answers")
        wait_for(lambda: len(read_records(journal.read_bytes()).outcomes) == MESSAGES, timeout=60,
                 what="every answered outcome in the journal")
        maild.kill9()
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert sqlite3.connect(db).execute(
        "SELECT count(*) FROM recipients WHERE delivery_state = 'accepted'").fetchone()[0] == 0  # the store knows nothing

    maild.start()
    wanted = {(f"<outage-{i}@helpdesk.example.com>", f"to{i}@example.net") for i in range(MESSAGES)}
    wait_for(lambda: sink.pairs() >= wanted, timeout=60, what="every copy at the upstream after the restart")
    wait_for(lambda: sqlite3.connect(db).execute(
        "SELECT count(*) FROM recipients WHERE delivery_state = 'accepted'").fetchone()[0] == MESSAGES,
        timeout=30, what="every outcome recorded")
    with sink.lock:
        sent = sorted(r for d in sink.received for r in d.recipients)
    assert sent == sorted(f"to{i}@example.net" for i in range(MESSAGES)), "a copy answered before the kill went out again"
    assert "delivery_journal_replayed" in maild.log.read_text()
    assert not any(read_records(journal.read_bytes()).outcomes)
    assert maild.terminate() == 0
