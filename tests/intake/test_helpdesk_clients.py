"""Intake as helpdesk SMTP clients use it: no STARTTLS trap on loopback, AUTH from allowed networks, never an open relay."""

from __future__ import annotations

import aiosmtplib
import pytest

from maild.intake.auth import hash_password
from tests.intake.conftest import raw_smtp
from tests.intake.test_intake import MESSAGE

AUTH_PLAIN_HELPDESK_PW = b"AUTH PLAIN AGhlbHBkZXNrAHB3\r\n"  # \0helpdesk\0pw
AUTH_PLAIN_OTHER = b"AUTH PLAIN AHpAbW1hZAB3aGF0ZXZlcg==\r\n"  # \0zammad\0whatever


async def test_loopback_without_certificate_offers_no_starttls(make_config, start_intake):
    # Zammad's SMTP driver tries STARTTLS whenever offered and verifies the certificate (enable_starttls_auto)
    intake = await start_intake(make_config())
    replies = await raw_smtp(intake.port, [b"EHLO zammad\r\n"])
    assert b"STARTTLS" not in replies[1]
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=intake.port, validate_certs=True) as client:  # start_tls auto
        errors, reply = await client.sendmail("agent@helpdesk.example.com", ["alice@example.net"], MESSAGE)
    assert errors == {} and reply.startswith("2.0.0")


async def test_allowed_network_may_auth_without_tls_and_credentials_are_checked(make_config, start_intake, tmp_path):
    users = tmp_path / "users"
    users.write_text("helpdesk:" + hash_password("pw", n=2**10) + "\n")
    intake = await start_intake(make_config(f'users_file = "{users}"\n'))
    replies = await raw_smtp(intake.port, [b"EHLO ui\r\n", b"AUTH PLAIN AGhlbHBkZXNrAHdyb25n\r\n"])
    assert b"AUTH" in replies[1] and b"STARTTLS" not in replies[1]
    assert replies[2].startswith(b"535")
    replies = await raw_smtp(intake.port, [b"EHLO ui\r\n", AUTH_PLAIN_HELPDESK_PW])
    assert replies[2].startswith(b"235")


async def test_ignore_mode_accepts_any_credentials_from_allowed_networks(make_config, start_intake):
    intake = await start_intake(make_config('allowed_networks_auth = "ignore"\n'))
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=intake.port) as client:
        await client.login("zammad", "whatever")
        errors, reply = await client.sendmail("agent@helpdesk.example.com", ["alice@example.net"], MESSAGE)
    assert errors == {} and reply.startswith("2.0.0")
    assert intake.rows("SELECT count(*) FROM messages") == [(1,)]


async def test_ignore_mode_opens_nothing_to_other_networks(make_config, start_intake):
    # 127.0.0.1 is outside these networks: it is "anyone else"
    intake = await start_intake(make_config('allowed_networks = ["10.0.0.0/8"]\nallowed_networks_auth = "ignore"\n'))
    replies = await raw_smtp(
        intake.port,
        [b"EHLO x\r\n", AUTH_PLAIN_OTHER, b"MAIL FROM:<a@helpdesk.example.com>\r\n", b"RCPT TO:<alice@example.net>\r\n"],
    )
    assert b"AUTH" not in replies[1]
    assert replies[2][:1] == b"5"  # no AUTH here: encryption required, and no users anyway
    assert replies[4].startswith(b"554 5.7.1")
    assert intake.rows("SELECT count(*) FROM messages") == [(0,)]


@pytest.mark.parametrize("listen", ['["192.0.2.1:25"]'])
def test_users_off_loopback_still_need_a_certificate(make_config, tmp_path, listen):
    from maild.errors import ConfigError

    users = tmp_path / "users"
    users.write_text("helpdesk:" + hash_password("pw", n=2**10) + "\n")
    with pytest.raises(ConfigError, match="intake.tls_cert_file"):
        make_config(f'[intake]\nlisten = {listen}\nusers_file = "{users}"\n')
