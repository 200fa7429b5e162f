"""The outcome journal (maild.delivery.journal): its record codec, and the file that survives a crash during an outage."""

from __future__ import annotations

import dataclasses
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from maild.core.events import EventKind
from maild.core.record import StatusRecord
from maild.core.states import DeliveryState
from maild.delivery.journal import BadRecord, OutcomeJournal, beside, decode, encode, read_records
from maild.delivery.outcome import Outcome

AT = datetime(2026, 12, 1, 18, 0, 0, 123000, tzinfo=UTC)


def full_record() -> StatusRecord:
    """Every field set to a value of its own: a field the codec forgot fails the round trip."""
    values: dict[str, object] = {}
    for n, f in enumerate(dataclasses.fields(StatusRecord)):
        kind = str(f.type)
        values[f.name] = True if "bool" in kind else 500 + n if "int" in kind else f"{f.name} — ünïcode\n\x00 {n}"
    return StatusRecord(**values)  # type: ignore[arg-type]


def outcome(recipient: int = 7, *, state: DeliveryState = DeliveryState.DEFERRED, record: StatusRecord | None = None) -> Outcome:
    deferred = state is DeliveryState.DEFERRED
    return Outcome(
        recipient=recipient, message=3, state=state, event=EventKind.DEFERRED if deferred else EventKind.ACCEPTED,
        attempts=2, next_attempt_at=AT.replace(minute=5) if deferred else None, record=record or full_record(),
        natural_key=f"delivery:{recipient}:2", at=AT,
    )


def test_a_record_round_trips_every_field() -> None:
    for o in (outcome(), outcome(state=DeliveryState.ACCEPTED, record=StatusRecord(action="accepted"))):
        line = encode(o)
        assert line.endswith(b"\n") and line.count(b"\n") == 1 and b"\x00" not in line
        assert decode(line[:-1]) == o


@pytest.mark.parametrize("damage", [
    lambda b: b[:-5],  # torn
    lambda b: b.replace(b'"attempts":2', b'"attempts":3'),  # altered: the checksum no longer matches
    lambda b: b"zzzzzzzz" + b[8:],  # no checksum
    lambda b: b"",
    lambda b: b"00000000 ",
])
def test_a_damaged_record_is_refused(damage) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BadRecord):
        decode(damage(encode(outcome())[:-1]))


@pytest.mark.parametrize("body", [b"[]", b'{"record": {}}', b'{"record": {}, "state": "nonsense"}', b"not json"])
def test_a_record_with_a_good_checksum_but_not_an_outcome_is_refused(body: bytes) -> None:
    import zlib

    with pytest.raises(BadRecord):
        decode(b"%08x %s" % (zlib.crc32(body), body))


def test_reading_stops_at_the_first_nul_and_at_a_torn_record() -> None:
    a, b = encode(outcome(1)), encode(outcome(2))
    assert read_records(a + b + bytes(100)) == read_records(a + b)
    got = read_records(a + b + bytes(10))
    assert [o.recipient for o in got.outcomes] == [1, 2] and got.end == len(a + b) and got.torn == 0
    torn = read_records(a + b[:-10] + bytes(10))
    assert [o.recipient for o in torn.outcomes] == [1] and torn.end == len(a) and torn.torn == 1
    assert read_records(bytes(64)).outcomes == ()


def test_the_file_is_allocated_in_full_private_and_beside_the_store(tmp_path: Path) -> None:
    path = beside(tmp_path / "maild.db")
    assert path == tmp_path / "maild.db-outcomes"
    journal = OutcomeJournal(path, size=64 * 1024).open()
    try:
        assert journal.usable and path.stat().st_size == 64 * 1024 and path.stat().st_mode & 0o777 == 0o600
        assert path.stat().st_blocks * 512 >= 64 * 1024  # taken now, not when the disk is full
        assert journal.pending() == ()
    finally:
        journal.close()


def test_what_is_appended_survives_a_crash_and_clear_empties_it(tmp_path: Path) -> None:
    path = tmp_path / "j"
    first = OutcomeJournal(path, size=64 * 1024).open()
    assert first.append([outcome(1), outcome(2)]) and first.append([outcome(3)])
    # a crash: the object is gone, the file stays
    os.close(first._fd)  # type: ignore[arg-type]
    again = OutcomeJournal(path, size=64 * 1024).open()
    try:
        assert [o.recipient for o in again.pending()] == [1, 2, 3]
        again.clear()
        assert again.pending() == () and path.read_bytes() == bytes(64 * 1024)
        assert again.append([outcome(4)]) and [o.recipient for o in again.pending()] == [4]
    finally:
        again.close()


def test_after_a_torn_record_new_records_follow_the_whole_ones(tmp_path: Path) -> None:
    path = tmp_path / "j"
    whole = encode(outcome(1))
    path.write_bytes(whole + encode(outcome(2))[:-20])  # a crash in the middle of the second write
    journal = OutcomeJournal(path, size=16 * 1024).open()
    try:
        assert [o.recipient for o in journal.pending()] == [1]
        assert journal.append([outcome(5)])
        assert [o.recipient for o in journal.pending()] == [1, 5]
        journal.clear()
        assert path.read_bytes() == bytes(16 * 1024)  # the torn bytes too
    finally:
        journal.close()


def test_a_full_journal_takes_nothing_more_and_says_so_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one = len(encode(outcome(1)))
    journal = OutcomeJournal(tmp_path / "j", size=one * 2 + 10).open()
    try:
        assert journal.append([outcome(1)]) and journal.append([outcome(2)])
        assert not journal.append([outcome(3)]) and not journal.append([outcome(4)])
        assert [o.recipient for o in journal.pending()] == [1, 2]
        assert capsys.readouterr().err.count("outcome_journal_full") == 1
        journal.clear()
        assert journal.append([outcome(3)])
    finally:
        journal.close()


def test_a_journal_that_cannot_be_had_is_not_fatal(tmp_path: Path) -> None:
    journal = OutcomeJournal(tmp_path / "no such folder" / "j").open()
    assert not journal.usable and not journal.append([outcome()]) and journal.pending() == ()
    journal.clear()
    journal.close()
