"""High 1: an idle connection flood from an address that may not relay must not stop intake, /healthz or the log.

Reproduction of the attack: `maild run` under `ulimit -n 1024` with
allowed_networks 127.0.0.1/32, then 1,100 idle sockets from 127.0.0.2. Before
the fix every one of them got a 220 until accept() ran out of descriptors; the
helpdesk's own client from 127.0.0.1 was not served and asyncio logged
tracebacks in a loop.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import urllib.request
from pathlib import Path

import aiosmtplib
import pytest

from maild.intake.limits import Gate, Refusal, SessionLimits
from tests.security.conftest import ATTACKER, attacker_address_usable, raise_own_descriptor_limit

MESSAGE = b"From: agent@helpdesk.example.com\r\nTo: alice@example.net\r\nSubject: hi\r\n\r\nbody\r\n"

pytestmark = pytest.mark.skipif(not attacker_address_usable(), reason=f"cannot bind {ATTACKER} on this machine")


async def _open_idle(port: int, host: str = ATTACKER) -> tuple[bytes, asyncio.StreamWriter | None]:
    """Connect from `host`, read the first reply line, keep the socket open (idle) when it was a greeting."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port, local_addr=(host, 0)), 20)
    except (TimeoutError, OSError) as exc:
        return f"connect failed: {exc!r}".encode(), None
    try:
        line = await asyncio.wait_for(reader.readline(), 20)
    except (TimeoutError, OSError):
        line = b"no reply"
    if not line.startswith(b"220"):
        writer.close()
        return line, None
    return line, writer


async def _flood(port: int, n: int) -> tuple[list[bytes], list[asyncio.StreamWriter]]:
    results = []
    for start in range(0, n, 200):  # bursts of 200, like a script opening sockets as fast as it can
        results += await asyncio.gather(*(_open_idle(port) for _ in range(start, min(n, start + 200))))
    return [r for r, _ in results], [w for _, w in results if w is not None]


def _healthz(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
        return int(response.status)


@pytest.mark.slow
async def test_idle_flood_from_a_foreign_address_leaves_the_helpdesk_served_and_the_log_quiet(run_maild):
    raise_own_descriptor_limit(4096)
    maild = run_maild(nofile=1024)
    replies, held = await _flood(maild.smtp_port, 1100)
    try:
        greeted = [r for r in replies if r.startswith(b"220")]
        refused = [r for r in replies if r.startswith(b"421 4.7.0")]
        assert len(greeted) <= 50, f"{len(greeted)} sessions held by one foreign address"
        assert len(greeted) + len(refused) == 1100, {r for r in replies if not r.startswith((b"220", b"421"))}
        # the helpdesk's MTA is served while the flood holds its sockets
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=maild.smtp_port, start_tls=False, timeout=20) as client:
            errors, reply = await client.sendmail("agent@helpdesk.example.com", ["alice@example.net"], MESSAGE)
        assert errors == {} and reply.startswith("2.0.0 Ok: queued as ")
        assert await asyncio.to_thread(_healthz, maild.http_port) == 200
    finally:
        for w in held:
            w.close()
    events = maild.events()  # every line is JSON (json.loads raises on a plain traceback)
    refusals = [e for e in events if e.get("event") == "session_refused"]
    assert 1 <= len(refusals) <= 10, f"{len(refusals)} log lines for {len(refused)} refusals"
    assert sum(int(e.get("repeated", 0)) for e in refusals) + len(refusals) <= len(refused)
    assert not [e for e in events if "Too many open files" in json.dumps(e)]


@pytest.mark.slow
async def test_a_low_descriptor_limit_caps_sessions_below_it_and_says_so(run_maild):
    raise_own_descriptor_limit(2048)
    no_caps = "max_untrusted_sessions = 1000\nmax_sessions_per_client = 1000\nconnection_rate_limit = 0\nmax_sessions = 1000"
    maild = run_maild(no_caps, nofile=400, allowed="[]")
    capped = [e for e in maild.events() if e.get("event") == "intake_sessions_capped"]
    assert capped and capped[0]["max_sessions"] < 400 - 128
    replies, held = await _flood(maild.smtp_port, 600)
    try:
        assert len([r for r in replies if r.startswith(b"220")]) == capped[0]["max_sessions"]
        assert all(r.startswith((b"220", b"421 4.7.0")) for r in replies), set(replies)
        assert await asyncio.to_thread(_healthz, maild.http_port) == 200  # the reserve kept HTTP's descriptors
    finally:
        for w in held:
            w.close()


def _listen_queue(port: int) -> tuple[str, int]:
    out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True, check=False)
    return (out.stdout if out.returncode == 0 else ""), int(Path("/proc/sys/net/core/somaxconn").read_text())


async def test_the_listen_queue_is_sized_for_bursts(make_config, start_intake):
    intake = await start_intake(make_config())
    listing, somaxconn = await asyncio.to_thread(_listen_queue, intake.port)
    if not listing.strip():
        pytest.skip("ss (iproute2) is not available to read the listen queue")
    out = subprocess.CompletedProcess([], 0, listing)
    backlog = int(out.stdout.split()[2])  # State Recv-Q Send-Q: Send-Q is the listen queue's size
    assert backlog == min(2048, somaxconn)


# ------------------------------------------------------------------ the gate (pure)

LIMITS = SessionLimits(max_sessions=4, max_untrusted=3, per_client=2, rate_per_minute=3)


def test_a_client_beyond_its_share_is_refused_and_a_released_slot_is_reused():
    gate = Gate(LIMITS)
    assert gate.admit("a", trusted=False, now=0) is None
    assert gate.admit("a", trusted=False, now=0) is None
    assert gate.admit("a", trusted=False, now=0) is Refusal.PER_CLIENT
    gate.release("a", trusted=False)
    assert gate.admit("a", trusted=False, now=0) is None


def test_untrusted_clients_together_leave_room_for_trusted_ones():
    gate = Gate(LIMITS)
    assert [gate.admit(c, trusted=False, now=0) for c in "abcd"] == [None, None, None, Refusal.UNTRUSTED]
    assert gate.admit("mta", trusted=True, now=0) is None
    assert gate.admit("mta", trusted=True, now=0) is Refusal.TOTAL


def test_the_connection_rate_counts_a_minute_per_client_and_spares_trusted_clients():
    gate = Gate(SessionLimits(max_sessions=100, max_untrusted=100, per_client=100, rate_per_minute=3))
    for t in (0, 1, 2):
        assert gate.admit("a", trusted=False, now=t) is None
    assert gate.admit("a", trusted=False, now=3) is Refusal.RATE
    assert gate.admit("b", trusted=False, now=3) is None
    assert gate.admit("a", trusted=False, now=60.5) is None  # the first connection left the window
    assert all(gate.admit("mta", trusted=True, now=4) is None for _ in range(10))


# ------------------------------------------------------------------ timeouts per phase


async def test_a_session_idle_before_mail_is_closed_after_idle_timeout_and_one_in_a_transaction_is_not(
    make_config, start_intake
):
    # 2 s: the busy session must get from its greeting to MAIL FROM within it, even on a loaded machine
    intake = await start_intake(make_config('[intake]\nlisten = ["127.0.0.1:0"]\nidle_timeout = "2s"\ncommand_timeout = "30s"'))
    idle_r, idle_w = await asyncio.open_connection("127.0.0.1", intake.port)
    busy_r, busy_w = await asyncio.open_connection("127.0.0.1", intake.port)
    await idle_r.readline(), await busy_r.readline()
    busy_w.write(b"EHLO client\r\nMAIL FROM:<agent@helpdesk.example.com>\r\n")
    while not (line := await asyncio.wait_for(busy_r.readline(), 10)).startswith(b"250 2.1.0"):
        assert line, "the busy session was closed before MAIL FROM was answered"
    # the idle one is closed by the server (EOF) well before the 30 s command timeout
    assert await asyncio.wait_for(idle_r.read(), 20) == b""
    busy_w.write(b"NOOP\r\n")
    assert (await asyncio.wait_for(busy_r.readline(), 5)).startswith(b"250")
    for w in (idle_w, busy_w):
        w.close()


async def test_data_timeout_is_idle_time_not_the_length_of_the_transfer(make_config, start_intake):
    # 3 s: fifteen times the client's pace, so a loaded machine's late wake-up is not taken for a silent client
    intake = await start_intake(make_config('[intake]\nlisten = ["127.0.0.1:0"]\ndata_timeout = "3s"'))
    reader, writer = await asyncio.open_connection("127.0.0.1", intake.port)
    await reader.readline()
    writer.write(b"HELO c\r\nMAIL FROM:<agent@helpdesk.example.com>\r\nRCPT TO:<alice@example.net>\r\nDATA\r\n")
    while not (line := await asyncio.wait_for(reader.readline(), 10)).startswith(b"354"):
        assert line, "closed before DATA was answered"
    writer.write(b"Subject: slow\r\n\r\n")
    for i in range(20):  # 4 s in DATA, never 3 s without a byte
        await asyncio.sleep(0.2)  # the pace of a slow client, not a synchronisation
        writer.write(b"line %d\r\n" % i)
    writer.write(b".\r\n")
    assert (await asyncio.wait_for(reader.readline(), 10)).startswith(b"250 2.0.0")
    writer.write(b"MAIL FROM:<agent@helpdesk.example.com>\r\nRCPT TO:<alice@example.net>\r\nDATA\r\n")
    while not (line := await asyncio.wait_for(reader.readline(), 10)).startswith(b"354"):
        assert line, "closed before the second DATA was answered"
    # silent in DATA: closed after data_timeout
    assert await asyncio.wait_for(reader.read(), 20) == b""
    writer.close()
