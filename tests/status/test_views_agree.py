"""The SQL views (recipient_status, reply_status, ticket_status) agree with maild.status on the table of cases."""

from __future__ import annotations

import pytest

from maild import queries
from tests.support.builders import Builder
from tests.support.status_cases import CASES, load_cases


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """Every case of the table loaded by load_cases."""
    b = Builder(tmp_path_factory.mktemp("views") / "maild.db")
    load_cases(b)
    yield b
    b.close()


def _python_rows(b: Builder, ticket: str):
    info = queries.load_thread(b.db, ticket)
    assert info is not None
    return info


@pytest.mark.parametrize("n,case", list(enumerate(CASES, start=1)), ids=[c.name for c in CASES])
def test_recipient_status_view_agrees(loaded: Builder, n: int, case) -> None:
    info = _python_rows(loaded, str(n))
    rows = loaded.view("SELECT * FROM recipient_status WHERE ticket = ? ORDER BY recipient_id", str(n))
    py = info.replies[0].recipients
    assert [r["state"] for r in rows] == [p.state for p in py] == list(case.states)
    for row, p in zip(rows, py, strict=True):
        assert (row["address"], row["kind"], row["delivered_at"], row["read_at"], row["read_via"]) == (
            p.address, p.kind, p.delivered_at, p.read_at, p.read_via)
        f = p.failure
        assert (row["failure_status"], row["failure_reason"], row["failure_diagnostic"], row["failure_source"],
                row["failure_at"]) == (
            (f.record.status, f.record.reason, f.record.diagnostic, f.source, f.at) if f else (None,) * 5)
        assert (None if row["failure_hard"] is None else bool(row["failure_hard"])) == (f.record.hard if f else None)
        assert (row["failure_via"], row["failure_reporting_mta"], row["failure_reporting_ua"]) == (
            (f.via, f.record.reporting_mta, f.record.reporting_ua) if f else (None,) * 3)
        assert bool(row["receipts_enabled"]) == case.receipts


@pytest.mark.parametrize("n,case", list(enumerate(CASES, start=1)), ids=[c.name for c in CASES])
def test_reply_status_view_agrees(loaded: Builder, n: int, case) -> None:
    info = _python_rows(loaded, str(n))
    (row,) = loaded.view("SELECT * FROM reply_status WHERE ticket = ?", str(n))
    reply = info.replies[0]
    assert row["state"] == reply.state == case.reply
    assert bool(row["bounce_label"]) == reply.bounce_label
    assert (row["message_id"], row["subject"], row["queued_at"]) == (reply.message_id, reply.subject, reply.queued_at)
    assert row["recipients"] == len(reply.recipients)


def test_ticket_status_view_summarises_each_ticket(loaded: Builder) -> None:
    rows = {r["ticket"]: r for r in loaded.view("SELECT * FROM ticket_status")}
    assert len(rows) == len(CASES)
    for n, case in enumerate(CASES, start=1):
        row = rows[str(n)]
        assert (row["replies"], row["last_reply_state"], row["failed_replies"]) == (
            1, case.reply, int(case.reply == "failed"))
        assert bool(row["receipts_enabled"]) == case.receipts
