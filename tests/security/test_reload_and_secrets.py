"""Medium 7 and the open-relay Low: SIGHUP reloads users_file; secrets others can read or write are refused.

The attacks reproduced: a user removed from users_file kept relaying after
SIGHUP and nothing was logged; a world-readable token.key, api.token or TLS
key and a world-writable users_file were accepted silently by `run` and
`check-config`; `allowed_networks = ["0.0.0.0/0"]` started without a word.
"""

from __future__ import annotations

import asyncio
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import aiosmtplib
import pytest

from maild.intake.auth import hash_password

MESSAGE = b"From: agent@helpdesk.example.com\r\nTo: alice@example.net\r\nSubject: hi\r\n\r\nbody\r\n"


def check_config(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "maild", "check-config", "--config", str(path)], capture_output=True, text=True)


def base_config(tmp_path: Path, extra: str = "") -> Path:
    cfg = tmp_path / "maild.toml"
    cfg.write_text(f'[intake]\nlisten = ["127.0.0.1:0"]\n{extra}\n[tracking]\nkey_file = "token.key"\n[http]\nlisten = ""\n')
    return cfg


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620])
def test_a_token_key_others_can_read_or_write_is_refused_naming_the_file_and_the_fix(tmp_path, mode):
    key = tmp_path / "token.key"
    key.write_text("a:" + "00" * 32 + "\n")
    key.chmod(mode)
    done = check_config(base_config(tmp_path))
    assert done.returncode == 2
    assert str(key) in done.stderr and "tracking.key_file" in done.stderr and "chmod" in done.stderr


def test_a_private_token_key_is_accepted(tmp_path):
    key = tmp_path / "token.key"
    key.write_text("a:" + "00" * 32 + "\n")
    key.chmod(0o600)
    assert check_config(base_config(tmp_path)).returncode == 0


def test_a_world_readable_tls_key_and_a_world_writable_users_file_are_refused(tmp_path, tls_cert):
    cert, key = tls_cert
    users = tmp_path / "users"
    users.write_text("helpdesk:" + hash_password("pw", n=2**10) + "\n")
    extra = f'users_file = "{users}"\ntls_cert_file = "{cert}"\ntls_key_file = "{key}"'
    key.chmod(0o644)
    users.chmod(0o600)
    done = check_config(base_config(tmp_path, extra))
    assert done.returncode == 2 and "intake.tls_key_file" in done.stderr
    key.chmod(0o600)
    users.chmod(0o666)
    done = check_config(base_config(tmp_path, extra))
    assert done.returncode == 2 and "intake.users_file" in done.stderr and "chmod go-w" in done.stderr
    users.chmod(0o644)  # readable hashes are tolerated, writable never
    assert check_config(base_config(tmp_path, extra)).returncode == 0


def test_allowing_the_whole_internet_to_relay_needs_an_explicit_setting(tmp_path):
    done = check_config(base_config(tmp_path, 'allowed_networks = ["0.0.0.0/0"]'))
    assert done.returncode == 2 and "open relay" in done.stderr
    assert check_config(base_config(tmp_path, 'allowed_networks = ["0.0.0.0/0"]\nallow_open_relay = true')).returncode == 0


async def test_sighup_reloads_users_file_and_a_revoked_user_can_no_longer_relay(run_maild, tmp_path, tls_cert):
    cert, key = tls_cert
    users = tmp_path / "users"
    users.write_text("alice:" + hash_password("pw1", n=2**10) + "\nbob:" + hash_password("pw2", n=2**10) + "\n")
    users.chmod(0o600)
    maild = run_maild(f'users_file = "{users}"\ntls_cert_file = "{cert}"\ntls_key_file = "{key}"\nauth_failure_delay = "0s"',
                      allowed="[]")
    ctx = ssl.create_default_context(cafile=str(cert))

    async def relay(user: str, password: str) -> str:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=maild.smtp_port, start_tls=True, tls_context=ctx, timeout=20) as c:
            await c.login(user, password)
            _, reply = await c.sendmail("agent@helpdesk.example.com", ["alice@example.net"], MESSAGE)
            return reply

    assert (await relay("bob", "pw2")).startswith("2.0.0")
    users.write_text("alice:" + hash_password("pw1", n=2**10) + "\n")  # bob revoked
    maild.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 20
    while not [e for e in maild.events() if e.get("event") == "users_reloaded"]:
        assert time.monotonic() < deadline, "no users_reloaded after SIGHUP"
        await asyncio.sleep(0.05)
    with pytest.raises(aiosmtplib.SMTPAuthenticationError):
        await relay("bob", "pw2")
    assert (await relay("alice", "pw1")).startswith("2.0.0")


async def test_sighup_names_what_needs_a_restart(run_maild, tmp_path):
    maild = run_maild()
    config = tmp_path / "maild.toml"
    config.write_text(config.read_text().replace('listen = ["127.0.0.1:', 'listen = ["127.0.0.2:'))
    maild.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 20
    while not [e for e in maild.events() if e.get("event") == "reload_needs_restart"]:
        assert time.monotonic() < deadline, "no reload_needs_restart after changing a listener"
        await asyncio.sleep(0.05)
    assert [e["setting"] for e in maild.events() if e.get("event") == "reload_needs_restart"] == ["intake.listen"]
