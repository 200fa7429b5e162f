"""receipts[].quarantine_max_bytes: a bigger report is kept cut (truncated), still listed and shown; the setting
reaches the Maildir and LMTP sources (the IMAP one is covered in test_imap_fake_server), and bad values are refused."""

from __future__ import annotations

import asyncio
import json

import pytest

from maild import config
from maild.cli import main
from maild.receipts.lmtp import LmtpSource
from maild.receipts.maildir import MaildirSource
from maild.receipts.quarantine import MAX_RAW_BYTES
from tests.receipts import mail
from tests.receipts.conftest import async_wait_for, write_config
from tests.receipts.test_maildir_lmtp import deliver, files, lmtp_send


def big_spam(size: int) -> bytes:
    """A spam message of exactly `size` bytes, in 78-byte lines (SMTP/LMTP line limits)."""
    head = mail.spam()
    body = (b"y" * 76 + b"\r\n") * ((size - len(head)) // 78)
    return head + body + b"z" * (size - len(head) - len(body) - 2) + b"\r\n"


async def test_maildir_report_over_the_limit_is_stored_cut_and_listed(tmp_path, db_path, db, store, capsys):
    from maild.receipts.ingest import Ingestor
    from tests.receipts.conftest import KEYS

    cfg = write_config(tmp_path, db_path, receipts=(
        '[[receipts]]\nurl = "maildir:receipts"\npoll_interval = "0.05s"\nquarantine_max_bytes = "2k"\n'))
    settings = config.load(cfg)
    assert settings.receipts[0].quarantine_max_bytes == 2048
    source = MaildirSource(settings.receipts[0], Ingestor(settings, store, KEYS), store)
    task = asyncio.create_task(source.run())
    try:
        await async_wait_for(lambda: source.connected, what="maildir ready")
        root = tmp_path / "receipts"
        raw = big_spam(10_000)
        small = mail.spam()
        deliver(root, raw)
        deliver(root, small)
        source.wake()
        await async_wait_for(lambda: len(files(root / ".quarantine")) == 2, what="both quarantined")
    finally:
        await source.stop()
        await asyncio.wait_for(task, 5)
    assert files(root) == []  # the file itself moved whole to the quarantine folder
    assert any((root / ".quarantine" / "cur" / n).read_bytes() == raw for n in files(root / ".quarantine"))

    assert main(["quarantine", "list", "--json", "--config", str(cfg)]) == 0
    listed = {i["size"]: i for i in map(json.loads, capsys.readouterr().out.splitlines())}
    assert set(listed) == {len(raw), len(small)}
    assert (listed[len(raw)]["truncated"], listed[len(raw)]["reason"]) == (True, "not_a_report")
    assert listed[len(small)]["truncated"] is False
    assert main(["quarantine", "list", "--config", str(cfg)]) == 0  # the table form lists it too
    assert capsys.readouterr().out.count("not_a_report") == 2

    big_id = listed[len(raw)]["id"]
    assert main(["quarantine", "show", str(big_id), "--raw", "--config", str(cfg)]) == 0
    assert capsys.readouterr().out.encode() == raw[:2048]
    assert db.execute("SELECT truncated, length(raw) FROM quarantine WHERE id = ?", (big_id,)).fetchone() == (1, 2048)


async def test_lmtp_source_passes_its_limit(tmp_path, db, ingestor, store):
    settings = config.parse({"receipts": [{"url": "lmtp://127.0.0.1:0", "quarantine_max_bytes": 100}]},
                            tmp_path / "maild.toml").receipts[0]
    source = LmtpSource(settings, ingestor, store)
    await source.start()
    task = asyncio.create_task(source.run())
    try:
        raw = big_spam(3000)
        assert await lmtp_send(source.port, raw, ["receipts@helpdesk.example.com"]) == [250]
    finally:
        await source.stop()
        await asyncio.wait_for(task, 5)
    size, kept, truncated = db.execute("SELECT size, length(raw), truncated FROM quarantine").fetchone()
    assert (kept, truncated) == (100, 1) and size >= 3000


def test_default_is_ten_mebibytes(tmp_path):
    settings = config.parse({"receipts": [{"url": "maildir:r"}]}, tmp_path / "maild.toml").receipts[0]
    assert settings.quarantine_max_bytes == MAX_RAW_BYTES == 10 * 1024 * 1024
    assert settings.idle_keepalive == 300


@pytest.mark.parametrize("key, value", [
    ("quarantine_max_bytes", "lots"), ("quarantine_max_bytes", -1), ("quarantine_max_bytes", "5 parsecs"),
    ("quarantine_max_bytes", True), ("idle_keepalive", "soon"), ("idle_keepalive", -5),
])
def test_bad_values_are_refused_with_the_setting_named(tmp_path, key, value):
    with pytest.raises(config.ConfigError) as err:
        config.parse({"receipts": [{"url": "maildir:r", key: value}]}, tmp_path / "maild.toml")
    assert key in str(err.value)
