"""Medium 4: SMTP AUTH brute force meets a failure delay, per-client and per-user limits, and no user-name oracle.

The attack reproduced: 40 guesses a second against one maild, scrypt on the
event loop (eight brute-force sessions pushed everyone's NOOP from 0.2 to
185 ms), and an unknown user answered in 3 ms against 25 ms for a known one.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
from pathlib import Path

from maild.intake.auth import Users, hash_password
from maild.intake.authlimits import FailureWindow


def _plain(user: str, password: str) -> bytes:
    return b"AUTH PLAIN " + base64.b64encode(f"\0{user}\0{password}".encode()) + b"\r\n"


async def _tls_session(port: int, cert: Path) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await reader.readline()
    writer.write(b"EHLO client\r\n")
    while (await reader.readline())[3:4] == b"-":
        pass
    writer.write(b"STARTTLS\r\n")
    assert (await reader.readline()).startswith(b"220")
    await writer.start_tls(ssl.create_default_context(cafile=str(cert)))
    writer.write(b"EHLO client\r\n")
    while (await reader.readline())[3:4] == b"-":
        pass
    return reader, writer


async def _say(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, line: bytes) -> bytes:
    writer.write(line)
    return await asyncio.wait_for(reader.readline(), 30)


def _config(tmp_path: Path, cert: Path, key: Path, extra: str) -> str:
    users = tmp_path / "users"
    users.write_text("helpdesk:" + hash_password("right", n=2**10) + "\n")
    users.chmod(0o600)
    return (f'allowed_networks = []\nusers_file = "{users}"\ntls_cert_file = "{cert}"\ntls_key_file = "{key}"\n'
            + extra)


async def test_after_too_many_failures_a_client_is_refused_even_with_the_right_password(make_config, start_intake, tls_cert, tmp_path):
    cert, key = tls_cert
    intake = await start_intake(make_config(_config(tmp_path, cert, key,
        'auth_failure_delay = "0s"\nmax_auth_failures_per_client = 3\nmax_auth_failures_per_user = 100\n')))
    r, w = await _tls_session(intake.port, cert)
    for guess in ("a", "b", "c"):
        assert (await _say(r, w, _plain("helpdesk", guess))).startswith(b"535")
    assert (await _say(r, w, _plain("helpdesk", "right"))).startswith(b"454 4.7.0")
    w.close()


async def test_one_user_name_is_locked_whatever_address_guesses(make_config, start_intake, tls_cert, tmp_path):
    cert, key = tls_cert
    intake = await start_intake(make_config(_config(tmp_path, cert, key,
        'auth_failure_delay = "0s"\nmax_auth_failures_per_client = 100\nmax_auth_failures_per_user = 2\n')))
    for guess in ("a", "b"):  # two sessions: per-user, not per-connection
        r, w = await _tls_session(intake.port, cert)
        assert (await _say(r, w, _plain("helpdesk", guess))).startswith(b"535")
        w.close()
    r, w = await _tls_session(intake.port, cert)
    assert (await _say(r, w, _plain("helpdesk", "right"))).startswith(b"454 4.7.0")
    assert (await _say(r, w, _plain("other", "x"))).startswith(b"535")  # another name is not locked
    w.close()


async def test_the_failure_delay_holds_the_guessing_session_not_the_others(make_config, start_intake, tls_cert, tmp_path):
    cert, key = tls_cert
    intake = await start_intake(make_config(_config(tmp_path, cert, key, 'auth_failure_delay = "3s"\n')))
    r, w = await _tls_session(intake.port, cert)
    other_r, other_w = await _tls_session(intake.port, cert)
    w.write(_plain("helpdesk", "wrong"))
    answer = asyncio.ensure_future(asyncio.wait_for(r.readline(), 30))
    assert (await _say(other_r, other_w, b"NOOP\r\n")).startswith(b"250")
    assert not answer.done(), "the failed AUTH was answered before the delay: no brake on guessing"
    assert (await answer).startswith(b"535")
    for writer in (w, other_w):
        writer.close()


def test_an_unknown_user_costs_the_same_scrypt_as_a_known_one():
    users = Users({"a": hash_password("x", n=2**12, r=8, p=1), "b": hash_password("y", n=2**12, r=8, p=1)})
    assert users.dummy.split("$")[1:4] == ["4096", "8", "1"]  # the same N, r, p: the same work
    assert not users.check("nobody", "x")


def test_a_failure_window_forgets_old_failures():
    window = FailureWindow(limit=2, window=60)
    window.fail("c", 0)
    window.fail("c", 1)
    assert window.locked("c", 2)
    assert not window.locked("c", 61.5)
