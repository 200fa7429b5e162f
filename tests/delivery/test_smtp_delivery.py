"""Delivery through a scripted aiosmtpd upstream: outcomes, events, retries, DSN parameters, bytes on the wire."""

from __future__ import annotations

from pathlib import Path

from maild import rewrite, tokens
from maild.delivery.scheduler import Scheduler
from tests.delivery.conftest import KEYS, MESSAGE, FakeClock, UpstreamServer, enqueue, make_settings


def _delivery(tmp_path: Path, upstream: UpstreamServer, store, clock: FakeClock, **settings) -> Scheduler:  # type: ignore[no-untyped-def]
    s = make_settings(tmp_path, f"smtp://127.0.0.1:{upstream.port}", **settings)
    return Scheduler(s, store, KEYS, clock=clock)


async def _states(store) -> dict[str, tuple[str, int, str | None]]:  # type: ignore[no-untyped-def]
    rows = await store.read(
        lambda db: db.execute("SELECT address, delivery_state, attempts, next_attempt_at FROM recipients").fetchall()
    )
    return {a: (s, n, t) for a, s, n, t in rows}


async def _events(store) -> list[tuple[str, str, int | None, str | None, str | None]]:  # type: ignore[no-untyped-def]
    return await store.read(
        lambda db: db.execute(
            """SELECT r.address, e.kind, e.reply_code, e.status, e.reason FROM events e
               JOIN recipients r ON r.id = e.recipient WHERE e.kind != 'queued' ORDER BY e.id"""
        ).fetchall()
    )


async def test_accepted_recipient_gets_an_accepted_event(tmp_path, upstream, store, clock):
    await enqueue(store, ["alice@example.net"])
    d = _delivery(tmp_path, upstream, store, clock)
    assert await d.deliver_due() == 1
    assert (await _states(store))["alice@example.net"][:2] == ("accepted", 1)
    assert await _events(store) == [("alice@example.net", "accepted", 250, "2.0.0", None)]
    await d.stop(1)


async def test_each_tracked_recipient_gets_its_own_copy_and_verp_sender(tmp_path, upstream, store, clock):
    spooled = await enqueue(store, ["alice@example.net", "bob@example.net", "carol@example.net"])
    d = _delivery(tmp_path, upstream, store, clock)
    assert await d.deliver_due() == 3
    assert len(upstream.received) == 3
    by_rcpt = {r.rcpt_tos[0]: r for r in upstream.received}
    assert all(len(r.rcpt_tos) == 1 for r in upstream.received)
    for rid, address in zip(spooled.recipients, ["alice@example.net", "bob@example.net", "carol@example.net"]):
        sender = by_rcpt[address].mail_from
        local, _, domain = sender.partition("@")
        assert domain == "helpdesk.example.com"
        assert local.startswith("receipts+")
        verified = tokens.verify(KEYS, local.removeprefix("receipts+"))
        assert verified == tokens.Verified(rid, "a")
    await d.stop(1)


async def test_delivered_copy_is_input_plus_disposition_notification_to(tmp_path, upstream, store, clock):
    await enqueue(store, ["alice@example.net"])
    d = _delivery(tmp_path, upstream, store, clock)
    await d.deliver_due()
    got = upstream.received[0]
    expected_header = f"Disposition-Notification-To: <{got.mail_from}>\r\n".encode()
    assert got.data == expected_header + MESSAGE
    assert rewrite.get(got.data, "Disposition-Notification-To") == f"<{got.mail_from}>"
    await d.stop(1)


async def test_no_disposition_notification_to_when_receipts_are_off(tmp_path, upstream, store, clock):
    await enqueue(store, ["alice@example.net"], receipts=False)
    d = _delivery(tmp_path, upstream, store, clock)
    await d.deliver_due()
    assert upstream.received[0].data == MESSAGE
    assert upstream.received[0].mail_from.startswith("receipts+")
    await d.stop(1)


async def test_lf_only_message_arrives_with_its_lines_intact(tmp_path, upstream, store, clock):
    raw = b"Subject: lf\n\n.dot\nline\n"
    await enqueue(store, ["alice@example.net"], raw=raw, receipts=False)
    d = _delivery(tmp_path, upstream, store, clock)
    await d.deliver_due()
    assert upstream.received[0].data == raw.replace(b"\n", b"\r\n")
    await d.stop(1)


async def test_untracked_message_goes_as_one_copy_with_original_sender(tmp_path, upstream, store, clock):
    await enqueue(store, ["alice@example.net", "bob@example.net"], tracked=False, sender="agent@helpdesk.example.com")
    d = _delivery(tmp_path, upstream, store, clock)
    assert await d.deliver_due() == 1
    (got,) = upstream.received
    assert got.mail_from == "agent@helpdesk.example.com"
    assert sorted(got.rcpt_tos) == ["alice@example.net", "bob@example.net"]
    assert got.data == MESSAGE
    assert got.mail_options == [] or not any(o.startswith(("ENVID", "RET")) for o in got.mail_options)
    assert all(v == [] for v in got.rcpt_options.values())
    await d.stop(1)


async def test_dsn_parameters_sent_when_offered(tmp_path, upstream, store, clock):
    await enqueue(store, ["alice@example.net"])
    d = _delivery(tmp_path, upstream, store, clock)
    await d.deliver_due()
    got = upstream.received[0]
    token = got.mail_from.split("+", 1)[1].split("@")[0]
    assert "RET=HDRS" in got.mail_options
    assert f"ENVID={token}".upper() in got.mail_options
    assert got.rcpt_options["alice@example.net"] == ["NOTIFY=SUCCESS,FAILURE,DELAY", "ORCPT=RFC822;ALICE@EXAMPLE.NET"]
    await d.stop(1)


async def test_dsn_parameters_not_sent_when_not_offered(tmp_path, upstream, store, clock):
    upstream.script.offer_dsn = False
    await enqueue(store, ["alice@example.net"])
    d = _delivery(tmp_path, upstream, store, clock)
    await d.deliver_due()
    got = upstream.received[0]
    assert not any(o.startswith(("RET=", "ENVID=")) for o in got.mail_options)
    assert got.rcpt_options["alice@example.net"] == []
    assert (await _states(store))["alice@example.net"][0] == "accepted"
    await d.stop(1)


async def test_dsn_not_requested_when_switched_off(tmp_path, upstream, store, clock):
    await enqueue(store, ["alice@example.net"])
    d = _delivery(tmp_path, upstream, store, clock, request_dsn=False)
    await d.deliver_due()
    assert upstream.received[0].rcpt_options["alice@example.net"] == []
    await d.stop(1)


async def test_550_fails_the_recipient_with_status_and_reason(tmp_path, upstream, store, clock):
    upstream.script.rcpt["bob@example.net"] = "550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown"
    await enqueue(store, ["alice@example.net", "bob@example.net"])
    d = _delivery(tmp_path, upstream, store, clock)
    await d.deliver_due()
    states = await _states(store)
    assert states["alice@example.net"][0] == "accepted"
    assert states["bob@example.net"][0] == "failed"
    events = await _events(store)
    assert ("bob@example.net", "failed", 550, "5.1.1", "userunknown") in events
    hard = await store.read(lambda db: db.execute("SELECT hard, remote_mta FROM events WHERE kind = 'failed'").fetchone())
    assert hard == (1, "127.0.0.1")
    await d.stop(1)


async def test_450_defers_then_retry_after_backoff_succeeds(tmp_path, upstream, store, clock):
    upstream.script.rcpt["alice@example.net"] = "450 4.2.0 Mailbox busy"
    await enqueue(store, ["alice@example.net"])
    d = _delivery(tmp_path, upstream, store, clock)
    assert await d.deliver_due() == 1
    state, attempts, next_at = (await _states(store))["alice@example.net"]
    assert (state, attempts, next_at) == ("deferred", 1, "2026-01-05T09:05:00.000Z")
    clock.advance(299)
    assert await d.deliver_due() == 0  # not yet due
    clock.advance(1)
    upstream.script.rcpt.clear()
    assert await d.deliver_due() == 1
    assert (await _states(store))["alice@example.net"][:2] == ("accepted", 2)
    kinds = [e[1] for e in await _events(store)]
    assert kinds == ["deferred", "accepted"]
    await d.stop(1)


async def test_retry_delays_double_up_to_max_retry(tmp_path, upstream, store, clock):
    upstream.script.rcpt["alice@example.net"] = "451 4.3.0 Try later"
    await enqueue(store, ["alice@example.net"])
    d = _delivery(tmp_path, upstream, store, clock, first_retry="5m", max_retry="1h")
    delays = []
    for _ in range(6):
        before = clock.now
        await d.deliver_due()
        next_at = (await _states(store))["alice@example.net"][2]
        from maild.clock import parse_iso

        delay = (parse_iso(next_at) - before).total_seconds()
        delays.append(delay)
        clock.now = parse_iso(next_at)
    assert delays == [300, 600, 1200, 2400, 3600, 3600]
    await d.stop(1)


async def test_transient_failure_past_lifetime_fails_as_expired(tmp_path, upstream, store, clock):
    upstream.script.rcpt["alice@example.net"] = "450 4.2.0 Mailbox busy"
    await enqueue(store, ["alice@example.net"])
    d = _delivery(tmp_path, upstream, store, clock, lifetime="1h")
    await d.deliver_due()
    clock.advance(3600)
    await d.deliver_due()
    assert (await _states(store))["alice@example.net"][0] == "failed"
    last = (await _events(store))[-1]
    assert last[1:] == ("failed", 450, "4.2.0", "expired")
    await d.stop(1)


async def test_connection_dropped_after_data_defers(tmp_path, upstream, store, clock):
    upstream.script.drop_after_data = True
    await enqueue(store, ["alice@example.net"])
    d = _delivery(tmp_path, upstream, store, clock)
    await d.deliver_due()
    assert (await _states(store))["alice@example.net"][0] == "deferred"
    diag = await store.read(lambda db: db.execute("SELECT diagnostic, reply_code FROM events WHERE kind='deferred'").fetchone())
    assert "after DATA" in diag[0] and diag[1] is None
    await d.stop(1)


async def test_unreachable_upstream_defers_with_connect_error(tmp_path, store, clock):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connection refused
        settings = make_settings(tmp_path, f"smtp://127.0.0.1:{port}")
        await enqueue(store, ["alice@example.net"])
        d = Scheduler(settings, store, KEYS, clock=clock)
        await d.deliver_due()
    diag = await store.read(lambda db: db.execute("SELECT diagnostic FROM events WHERE kind='deferred'").fetchone())
    assert diag[0].startswith(f"connect to 127.0.0.1:{port} failed")
    await d.stop(1)


async def test_5xx_to_data_fails_every_recipient_of_the_copy(tmp_path, upstream, store, clock):
    upstream.script.data = "554 5.6.0 Content rejected"
    await enqueue(store, ["alice@example.net", "bob@example.net"], tracked=False)
    d = _delivery(tmp_path, upstream, store, clock)
    await d.deliver_due()
    assert {s[0] for s in (await _states(store)).values()} == {"failed"}
    await d.stop(1)


async def test_4xx_to_mail_defers_every_recipient(tmp_path, upstream, store, clock):
    upstream.script.mail = "451 4.3.0 Local problem"
    await enqueue(store, ["alice@example.net", "bob@example.net"], tracked=False)
    d = _delivery(tmp_path, upstream, store, clock)
    await d.deliver_due()
    assert {s[0] for s in (await _states(store)).values()} == {"deferred"}
    await d.stop(1)


async def test_body_dropped_when_every_recipient_is_final(tmp_path, upstream, store, clock):
    upstream.script.rcpt["bob@example.net"] = "450 4.2.0 busy"
    spooled = await enqueue(store, ["alice@example.net", "bob@example.net"])
    d = _delivery(tmp_path, upstream, store, clock)
    await d.deliver_due()

    def body(db):  # type: ignore[no-untyped-def]
        return db.execute("SELECT body IS NULL, finished_at, length(headers) FROM messages WHERE id=?", (spooled.message,)).fetchone()

    assert (await store.read(body))[0] == 0
    upstream.script.rcpt.clear()
    clock.advance(300)
    await d.deliver_due()
    dropped, finished_at, header_len = await store.read(body)
    assert dropped == 1 and finished_at == "2026-01-05T09:05:00.000Z" and header_len > 0
    await d.stop(1)


async def test_held_message_is_not_delivered(tmp_path, upstream, store, clock):
    spooled = await enqueue(store, ["alice@example.net"])
    await store.write(lambda db: db.execute("UPDATE messages SET held = 1 WHERE id = ?", (spooled.message,)))
    d = _delivery(tmp_path, upstream, store, clock)
    assert await d.deliver_due() == 0
    assert upstream.received == []
    await d.stop(1)


async def test_connections_are_reused_across_copies(tmp_path, upstream, store, clock):
    await enqueue(store, [f"user{i}@example.net" for i in range(6)])
    d = _delivery(tmp_path, upstream, store, clock, concurrency=1)
    assert await d.deliver_due() == 6
    assert upstream.handler.transactions == 6
    assert len(upstream.handler.connections) == 1
    await d.stop(1)


async def test_without_pipelining_delivery_still_works(tmp_path, upstream, store, clock):
    upstream.script.offer_pipelining = False
    upstream.script.rcpt["bob@example.net"] = "550 5.1.1 unknown"
    await enqueue(store, ["alice@example.net", "bob@example.net"], tracked=False)
    d = _delivery(tmp_path, upstream, store, clock, concurrency=1)
    await d.deliver_due()
    await d.deliver_due()
    states = await _states(store)
    assert states["alice@example.net"][0] == "accepted" and states["bob@example.net"][0] == "failed"
    assert upstream.received[0].rcpt_tos == ["alice@example.net"]
    await d.stop(1)


async def test_switching_receipts_off_also_covers_copies_waiting_for_a_retry(tmp_path, upstream, store, clock):
    from maild import departments, rewrite, spool
    from maild.core.events import RecipientKind
    from tests.delivery.conftest import START

    headers, body = rewrite.split_message(MESSAGE)
    sub = spool.Submission(
        queue_id=spool.new_queue_id(), sender="agent@helpdesk.example.com",
        recipients=(spool.SpoolRecipient("alice@example.net", RecipientKind.TO),),
        headers=headers, body=body, received_at=START, ticket="1234", department="Billing", tracked=True,
    )
    spooled = await store.write(lambda db: spool.enqueue(db, sub, KEYS))
    assert spooled.receipts_requested  # asked for at intake...
    await store.write(lambda db: departments.set_receipts(db, "billing", False, START))  # ...switched off before delivery
    d = _delivery(tmp_path, upstream, store, clock)
    await d.deliver_due()
    assert upstream.received[0].data == MESSAGE  # no Disposition-Notification-To
    await d.stop(1)
