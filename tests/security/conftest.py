"""Fixtures for attacks on a real `maild run`: free ports, a descriptor limit, a second loopback client address."""

from __future__ import annotations

import json
import resource
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.daemon.conftest import NotifySocket, Sink, free_port, sink  # noqa: F401  (sink: a fixture)
from tests.intake.conftest import make_config, raw_smtp, start_intake, tls_cert  # noqa: F401  (fixtures)
from tests.receipts.conftest import config_file, db, db_path, ingestor, settings, store  # noqa: F401  (fixtures)

ATTACKER = "127.0.0.2"  # Linux routes all of 127.0.0.0/8 to lo: a second client address without any setup


def attacker_address_usable() -> bool:
    try:
        with socket.socket() as s:
            s.bind((ATTACKER, 0))
        return True
    except OSError:
        return False


def raise_own_descriptor_limit(need: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < need:
        pytest.skip(f"the flood needs {need} descriptors in the test process; the hard limit is {hard}")
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


@dataclass
class Maild:
    proc: subprocess.Popen[bytes]
    smtp_port: int
    http_port: int
    log: Path
    root: Path

    def log_lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines()

    def events(self) -> list[dict[str, object]]:
        """Every log line parsed as JSON; a line that is not JSON fails the test that asks."""
        return [json.loads(line) for line in self.log_lines() if line.strip()]


@pytest.fixture
def run_maild(tmp_path: Path, sink: Sink) -> Iterator[Callable[..., Maild]]:  # noqa: F811
    started: list[Maild] = []

    def start(
        extra_intake: str = "", *, nofile: int | None = None, extra: str = "", allowed: str = '["127.0.0.1/32"]'
    ) -> Maild:
        smtp_port, http_port = free_port(), free_port()
        config = tmp_path / "maild.toml"
        config.write_text(
            f"""
[store]
path = "var/maild.db"
[intake]
listen = ["127.0.0.1:{smtp_port}"]
allowed_networks = {allowed}
{extra_intake}
[delivery]
upstream = "smtp://127.0.0.1:{sink.port}"
poll_interval = "0.2s"
[tracking]
key_file = "var/token.key"
[http]
listen = "127.0.0.1:{http_port}"
token_file = "var/api.token"
{extra}
"""
        )

        def limit() -> None:
            if nofile is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        notify = NotifySocket(tmp_path / f"notify{len(started)}.sock")
        log = tmp_path / "maild.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "maild", "run", "--config", str(config), "--log-format", "json"],
                env={**__import__("os").environ, "NOTIFY_SOCKET": str(notify.path)},
                stdout=subprocess.DEVNULL, stderr=out, preexec_fn=limit, cwd=tmp_path,
            )
        try:
            notify.wait("READY=1")
        except AssertionError:
            proc.kill()
            raise AssertionError(f"maild did not start; log:\n{log.read_text()[-3000:]}") from None
        finally:
            notify.close()
        m = Maild(proc, smtp_port, http_port, log, tmp_path)
        started.append(m)
        return m

    yield start
    for m in started:
        if m.proc.poll() is None:
            m.proc.terminate()
            try:
                m.proc.wait(30)
            except subprocess.TimeoutExpired:
                m.proc.kill()
                m.proc.wait(10)
