"""Write-back through the persisted outbox against recorded helpdesk contracts: what is written, once, and never
for a department whose receipts are off; refused tokens, refusals and retries; no tracked mail of its own."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from maild import config
from maild.errors import ConfigError
from maild.intake.incoming import read_incoming
from maild.store import Store
from maild.writeback.dispatcher import WritebackDispatcher
from maild.writeback.requests import MARK
from tests.presets import helpdesk_mail as hm
from tests.support.builders import Builder
from tests.writeback.contract import Helpdesk


async def until(condition, timeout: float = 30.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        await asyncio.sleep(0.02)


def settings_for(tmp_path: Path, target: dict[str, Any]) -> config.Settings:
    (tmp_path / "token").write_text("T0KEN\n")
    (tmp_path / "app").write_text("APP\n")
    # a request timeout no test waits out: one that fired on a loaded machine would leave a note `uncertain`
    target = {"token_file": "token", "first_retry": "0.05s", "max_retry": "0.2s", "poll_interval": "0.05s",
              "timeout": "30s", **target}
    lines = [f"{k} = {json.dumps(v)}" for k, v in target.items()]
    (tmp_path / "maild.toml").write_text('[store]\npath = "maild.db"\n[[writeback]]\n' + "\n".join(lines) + "\n")
    return config.load(tmp_path / "maild.toml")


def rows(settings: config.Settings, sql: str) -> list[tuple]:
    with sqlite3.connect(settings.store.path) as c:
        return c.execute(sql).fetchall()


class Env:
    def __init__(self, settings: config.Settings, store: Store, builder: Builder, desk: Helpdesk) -> None:
        self.settings, self.store, self.b, self.desk = settings, store, builder, desk
        self.task: asyncio.Task[None] | None = None
        self.d: WritebackDispatcher | None = None

    async def start(self) -> None:
        self.d = WritebackDispatcher(self.settings, self.store)
        self.task = asyncio.create_task(self.d.run())
        await until(lambda: bool(rows(self.settings, "SELECT * FROM writeback_cursors")))

    async def stop(self) -> None:
        assert self.d is not None and self.task is not None
        await self.d.stop()
        await self.task

    def reply(self, helpdesk: str, ids: dict[str, str], ticket: str, recipients: list[tuple[str, str]],
              department: str = "Support") -> Any:
        def work() -> Any:
            r = self.b.reply(ticket, recipients, department=department)
            self.b.db.execute("UPDATE messages SET helpdesk = ?, helpdesk_ids = ? WHERE id = ?",
                              (helpdesk, json.dumps(ids), r.message))
            self.b.db.conn.commit()
            return r
        return asyncio.to_thread(work)

    def event(self, r: Any, address: str, kind: str, minutes: float) -> Any:
        return asyncio.to_thread(self.b.event, r, address, kind, minutes)


@pytest.fixture
async def make_env(tmp_path):
    made: list[Env] = []

    async def make(target: dict[str, Any]) -> Env:
        desk = await Helpdesk().start()
        settings = settings_for(tmp_path, {"url": desk.url, **target})
        store = Store(settings.store.path)
        await asyncio.to_thread(store.open)
        builder = await asyncio.to_thread(Builder, settings.store.path)
        env = Env(settings, store, builder, desk)
        made.append(env)
        return env

    yield make
    for env in made:
        if env.task is not None and not env.task.done():
            await env.stop()
        await asyncio.to_thread(env.b.close)
        await asyncio.to_thread(env.store.close)
        await env.desk.stop()


async def test_zammad_gets_one_internal_note_and_tag_per_state_on_its_internal_ticket_id(make_env):
    env = await make_env({"kind": "zammad", "mode": "note+tag"})
    await env.start()
    r = await env.reply("zammad", {"zammad_ticket_id": "42"}, "31001", [("alice@example.net", "to")])
    await env.event(r, "alice@example.net", "accepted", 1)
    await env.event(r, "alice@example.net", "delivered", 2)  # the DSN: same state, no second write
    await env.event(r, "alice@example.net", "displayed", 5)
    try:
        await until(lambda: len(env.desk.calls) == 4)
    except AssertionError:
        raise AssertionError(f"calls: {env.desk.calls}; outbox: {rows(env.settings, 'SELECT * FROM writeback_outbox')}") from None
    await asyncio.sleep(0.3)
    await env.stop()
    notes = [c for c in env.desk.calls if c.path == "/api/v1/ticket_articles"]
    tags = [c.json["item"] for c in env.desk.calls if c.path == "/api/v1/tags/add"]
    assert [n.json["ticket_id"] for n in notes] == [42, 42]  # the id of the Message-ID, never the number 31001
    assert all(n.json["internal"] is True and n.json["type"] == "note" for n in notes)
    assert notes[0].json["body"].startswith(f"{MARK}: alice@example.net delivered")
    assert notes[1].json["body"].startswith(f"{MARK}: alice@example.net read")
    assert tags == ["maild-delivered", "maild-read"]
    # a restart writes nothing again
    await env.start()
    await asyncio.sleep(0.4)
    await env.stop()
    assert len(env.desk.calls) == 4
    assert rows(env.settings, "SELECT state, status FROM writeback_outbox ORDER BY id") == [("delivered", "done"), ("read", "done")]


async def test_no_read_information_for_a_department_with_receipts_off(make_env):
    env = await make_env({"kind": "zammad"})
    await asyncio.to_thread(env.b.receipts, "Private", False)
    await env.start()
    r = await env.reply("zammad", {"zammad_ticket_id": "7"}, "31002", [("bob@example.net", "to")], department="Private")
    await env.event(r, "bob@example.net", "accepted", 1)
    await env.event(r, "bob@example.net", "displayed", 5)
    await until(lambda: len(env.desk.calls) == 1)
    await asyncio.sleep(0.5)
    await env.stop()
    assert [c.json["subject"] for c in env.desk.calls] == [f"{MARK}: delivered"]
    assert rows(env.settings, "SELECT state FROM writeback_outbox") == [("delivered",)]


async def test_a_refused_token_is_logged_retried_and_recovers(make_env, capsys):
    env = await make_env({"kind": "rt"})
    (Path(env.settings.store.path).parent / "token").write_text("WRONG\n")
    await env.start()
    r = await env.reply("rt", {}, "1234", [("alice@example.net", "to")])
    await env.event(r, "alice@example.net", "accepted", 1)
    await until(lambda: "token refused" in str(rows(env.settings, "SELECT last_error FROM writeback_outbox")))
    assert "writeback_token_refused" in capsys.readouterr().err
    assert rows(env.settings, "SELECT status FROM writeback_outbox")[0][0] in ("pending", "sending")
    (Path(env.settings.store.path).parent / "token").write_text("T0KEN\n")  # the operator fixes the file
    await until(lambda: rows(env.settings, "SELECT status FROM writeback_outbox") == [("done",)])
    await env.stop()
    last = env.desk.calls[-1]
    assert last.path == "/REST/2.0/ticket/1234" and last.json == {"CustomFields": {"maild": last.json["CustomFields"]["maild"]}}
    assert last.json["CustomFields"]["maild"].startswith("alice@example.net delivered")


async def test_a_refusal_is_kept_and_retried_by_the_command(make_env, capsys):
    env = await make_env({"kind": "rt"})
    env.desk.fail_next = [404]
    await env.start()
    r = await env.reply("rt", {}, "99", [("alice@example.net", "to")])
    await env.event(r, "alice@example.net", "accepted", 1)
    await until(lambda: rows(env.settings, "SELECT status FROM writeback_outbox") == [("refused",)])
    from maild.cli import main

    assert main(["writeback", "list", "--config", str(env.settings.source), "--status", "refused", "--json"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert listed[0]["ticket"] == "99" and "HTTP 404" in listed[0]["last_error"]
    assert main(["writeback", "retry", "--all", "--config", str(env.settings.source)]) == 0
    await until(lambda: rows(env.settings, "SELECT status FROM writeback_outbox") == [("done",)])
    await env.stop()


async def test_freescout_viewed_indicator_once_per_reply_on_the_first_read(make_env):
    env = await make_env({"kind": "freescout", "token_file": ""})
    await env.start()
    r = await env.reply("freescout", {"conversation": "77", "thread": "512"}, "77",
                        [("alice@example.net", "to"), ("bob@example.net", "cc")])
    await env.event(r, "alice@example.net", "accepted", 1)
    await env.event(r, "alice@example.net", "displayed", 3)
    await env.event(r, "bob@example.net", "displayed", 4)
    await until(lambda: len(env.desk.calls) == 1)
    await asyncio.sleep(0.4)
    await env.stop()
    (call,) = env.desk.calls
    assert (call.method, call.path) == ("GET", "/thread/read/77/512")


async def test_glpi_private_followup_in_a_session(make_env):
    env = await make_env({"kind": "glpi", "app_token_file": "app", "states": ["read"]})
    await env.start()
    r = await env.reply("glpi", {"itemtype": "Ticket", "items_id": "123", "event": "add_followup"}, "123",
                        [("alice@example.net", "to")])
    await env.event(r, "alice@example.net", "accepted", 1)
    await env.event(r, "alice@example.net", "displayed", 3)
    await until(lambda: len(env.desk.calls) == 3)
    await env.stop()
    init, followup, kill = env.desk.calls
    assert init.path == "/apirest.php/initSession" and init.headers["Authorization"] == "user_token T0KEN"
    assert followup.path == "/apirest.php/Ticket/123/ITILFollowup"
    assert followup.json["input"]["is_private"] == 1 and followup.json["input"]["items_id"] == 123
    assert followup.json["input"]["content"].startswith(f"{MARK}: alice@example.net read")
    assert kill.path == "/apirest.php/killSession"


async def test_mail_of_another_helpdesk_is_never_written(make_env):
    env = await make_env({"kind": "rt"})
    await env.start()
    r = await env.reply("zammad", {"zammad_ticket_id": "1"}, "5", [("alice@example.net", "to")])
    await env.event(r, "alice@example.net", "accepted", 1)
    await asyncio.sleep(0.5)
    await env.stop()
    assert env.desk.calls == [] and rows(env.settings, "SELECT count(*) FROM writeback_outbox") == [(0,)]


def test_the_helpdesks_echo_of_a_write_back_is_never_tracked():
    # GLPI mails technicians each follow-up, maild's private one included
    raw = hm.glpi().raw.replace(b"the answer.", f"{MARK}: alice@example.net read at 2026-12-01".encode())
    c = read_incoming(raw, "", ["tech@glpi.example.com"], config.parse({}, Path("/tmp/maild.toml")).tracking)
    assert not c.tracked and "write-back" in c.skipped


@pytest.mark.parametrize(
    ("target", "key"),
    [
        ({"kind": "rt", "url": "http://127.0.0.1:1"}, "writeback[0].token_file"),
        ({"kind": "rt", "url": "ftp://x", "token_file": "t"}, "writeback[0].url"),
        ({"kind": "zammad", "url": "http://127.0.0.1:1", "token_file": "t", "mode": "field"}, "writeback[0].mode"),
        ({"kind": "glpi", "url": "http://127.0.0.1:1", "token_file": "t"}, "writeback[0].app_token_file"),
        ({"kind": "jira", "url": "http://127.0.0.1:1", "token_file": "t"}, "writeback[0].kind"),
    ],
)
def test_bad_targets_name_the_key(target, key):
    with pytest.raises(ConfigError) as err:
        config.parse({"writeback": [target]}, Path("/tmp/maild.toml"))
    assert key in str(err.value)


async def test_a_row_caught_mid_call_by_a_crash_is_never_written_twice(make_env):
    # maild died after sending a note's request but before recording the answer: the note may exist
    env = await make_env({"kind": "zammad"})
    await env.start()
    r = await env.reply("zammad", {"zammad_ticket_id": "9"}, "31009", [("alice@example.net", "to")])
    await env.event(r, "alice@example.net", "accepted", 1)
    await until(lambda: rows(env.settings, "SELECT status FROM writeback_outbox") == [("done",)])
    await env.stop()
    await asyncio.to_thread(env.b.db.execute, "UPDATE writeback_outbox SET status = 'sending'")
    env.b.db.conn.commit()
    calls = len(env.desk.calls)
    await env.start()
    await asyncio.sleep(0.4)
    await env.stop()
    assert len(env.desk.calls) == calls  # not repeated on its own
    assert rows(env.settings, "SELECT status FROM writeback_outbox") == [("uncertain",)]


async def test_an_idempotent_field_caught_mid_call_is_simply_rewritten(make_env):
    env = await make_env({"kind": "rt"})
    await env.start()
    r = await env.reply("rt", {}, "77", [("alice@example.net", "to")])
    await env.event(r, "alice@example.net", "accepted", 1)
    await until(lambda: rows(env.settings, "SELECT status FROM writeback_outbox") == [("done",)])
    await env.stop()
    await asyncio.to_thread(env.b.db.execute, "UPDATE writeback_outbox SET status = 'sending'")
    env.b.db.conn.commit()
    await env.start()
    await until(lambda: rows(env.settings, "SELECT status FROM writeback_outbox") == [("done",)])
    await env.stop()
    assert [c.path for c in env.desk.calls] == ["/REST/2.0/ticket/77", "/REST/2.0/ticket/77"]
