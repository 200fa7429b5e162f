"""Sessions, CSRF tokens, login throttling, users files and embed signatures: the panel's pure security parts."""

from __future__ import annotations

import stat

import pytest

from maild.errors import ConfigError
from maild.web import embed
from maild.web.sessions import LoginThrottle, Sessions, csrf_ok
from maild.web.users import (
    Role,
    UserError,
    add_user,
    load_users,
    remove_user,
    set_password,
    verify,
)


def test_a_session_ends_after_its_idle_time_and_every_request_renews_it():
    sessions = Sessions(idle=60)
    s = sessions.create("alice", Role.AGENT, now=0)
    assert sessions.get(s.id, now=59) is s
    assert sessions.get(s.id, now=118) is s  # renewed at 59
    assert sessions.get(s.id, now=179) is None
    assert sessions.get(s.id, now=180) is None  # gone for good


def test_logout_and_unknown_ids_give_no_session():
    sessions = Sessions(idle=60)
    s = sessions.create("alice", Role.ADMIN, now=0)
    assert sessions.get("forged", now=1) is None and sessions.get(None, now=1) is None
    sessions.end(s.id)
    assert sessions.get(s.id, now=1) is None


def test_csrf_tokens_are_per_session():
    sessions = Sessions(idle=60)
    a, b = sessions.create("a", Role.AGENT, 0), sessions.create("b", Role.AGENT, 0)
    assert csrf_ok(a, a.csrf) and not csrf_ok(a, b.csrf) and not csrf_ok(a, "") and not csrf_ok(a, None)
    assert a.id != b.id and a.csrf != b.csrf


def test_failed_logins_wait_longer_each_time_per_user_and_per_address():
    t = LoginThrottle(base=1, ceiling=8, free_failures=3)
    for _ in range(3):
        assert t.wait("alice", "10.0.0.1", now=0) == 0
        t.failed("alice", "10.0.0.1", now=0)
    assert t.wait("alice", "10.0.0.1", now=0) == 1  # 4th attempt: wait 1 s
    assert t.wait("ALICE", "127.0.0.9", now=0) == 1  # the same user from elsewhere
    assert t.wait("bob", "10.0.0.1", now=0) == 1  # another user from the same address
    assert t.wait("bob", "127.0.0.9", now=0) == 0
    t.failed("alice", "10.0.0.1", now=1)
    t.failed("alice", "10.0.0.1", now=3)
    assert t.wait("alice", "10.0.0.1", now=3) == 4
    for n in range(10):
        t.failed("alice", "10.0.0.1", now=10 + n)
    assert t.wait("alice", "10.0.0.1", now=19) == 8  # the ceiling
    t.succeeded("alice", "10.0.0.1")
    assert t.wait("alice", "10.0.0.1", now=19) == 0


def test_users_file_is_private_and_holds_hashes_not_passwords(tmp_path):
    path = tmp_path / "var" / "web-users"
    add_user(path, "alice", Role.ADMIN, "correct horse")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "correct horse" not in path.read_text()
    users = load_users(path)
    assert verify(users, "alice", "correct horse") is not None and verify(users, "alice", "wrong") is None
    assert verify(users, "nobody", "correct horse") is None
    with pytest.raises(UserError):
        add_user(path, "alice", Role.AGENT, "x" * 10)
    with pytest.raises(UserError):
        add_user(path, "bad:name", Role.AGENT, "x" * 10)
    set_password(path, "alice", "battery staple")
    assert verify(load_users(path), "alice", "battery staple") is not None
    remove_user(path, "alice")
    assert load_users(path) == {}
    with pytest.raises(UserError):
        remove_user(path, "alice")


def test_a_broken_users_file_names_its_line(tmp_path):
    path = tmp_path / "web-users"
    path.write_text("# comment\nalice:superuser:scrypt$1$2$3$aa$bb\n")
    with pytest.raises(ConfigError, match="line 2"):
        load_users(path)


def test_embed_signatures_bind_ticket_and_expiry():
    key = "k" * 32
    path = embed.embed_path(key, "1234", 1000)
    query = dict(p.split("=") for p in path.split("?")[1].split("&"))
    assert embed.check(key, "1234", query["exp"], query["sig"], now=999) == embed.EmbedCheck.OK
    assert embed.check(key, "1234", query["exp"], query["sig"], now=1001) == embed.EmbedCheck.EXPIRED
    assert embed.check(key, "1235", query["exp"], query["sig"], now=999) == embed.EmbedCheck.BAD_SIGNATURE
    assert embed.check(key, "1234", "2000", query["sig"], now=999) == embed.EmbedCheck.BAD_SIGNATURE
    assert embed.check("other" * 8, "1234", query["exp"], query["sig"], now=999) == embed.EmbedCheck.BAD_SIGNATURE
    assert embed.check(key, "1234", "-5", query["sig"], now=0) == embed.EmbedCheck.MALFORMED
    assert embed.check(key, "1234", None, None, now=0) == embed.EmbedCheck.MALFORMED
