"""Fixtures: a real intake listener on 127.0.0.1 port 0 over a real SQLite file."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from maild import config, tokens
from maild.intake.server import IntakeServer, build_intake
from maild.store import Store


@dataclass
class RunningIntake:
    settings: config.Settings
    store: Store
    server: IntakeServer
    port: int
    tls_port: int | None
    spooled: list[int]

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        import sqlite3

        conn = sqlite3.connect(self.settings.store.path)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[[str], config.Settings]:
    def make(extra: str = "") -> config.Settings:
        text = '[intake]\nlisten = ["127.0.0.1:0"]\n' if "[intake]" not in extra else ""
        path = tmp_path / "maild.toml"
        path.write_text(text + extra)
        return config.load(path)

    return make


@pytest.fixture
def tls_cert(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


@pytest.fixture
async def start_intake() -> AsyncIterator[Callable[[config.Settings], asyncio.Future[RunningIntake]]]:
    started: list[RunningIntake] = []

    async def start(settings: config.Settings) -> RunningIntake:
        keys = tokens.load_keys(settings.tracking.key_file, create=True)
        store = Store(settings.store.path)
        await asyncio.to_thread(store.open)
        spooled: list[int] = []
        server = build_intake(settings, store, keys, on_spooled=lambda: spooled.append(1))
        bound = await server.start()
        plain = len(settings.intake.listen)
        running = RunningIntake(
            settings, store, server, bound[0][1], bound[plain][1] if len(bound) > plain else None, spooled
        )
        started.append(running)
        return running

    yield start  # type: ignore[misc]
    for r in started:
        await r.server.stop()
        await asyncio.to_thread(r.store.close)


async def raw_smtp(port: int, lines: list[bytes], *, host: str = "127.0.0.1") -> list[bytes]:
    """Speak SMTP byte for byte: each chunk (a command, or a whole DATA body with its final dot) gets one reply."""
    reader, writer = await asyncio.open_connection(host, port)

    async def reply() -> bytes:
        out = b""
        while True:
            line = await asyncio.wait_for(reader.readline(), 10)
            out += line
            if len(line) < 4 or line[3:4] != b"-":
                return out

    replies = [await reply()]
    for chunk in lines:
        writer.write(chunk)
        await writer.drain()
        replies.append(await reply())
    writer.close()
    return replies
