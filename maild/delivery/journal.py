"""The outcome journal: answers the store could not record, kept on disk in space taken before the disk filled.

While the store cannot write (a full disk, another process holding the lock)
the scheduler holds answered copies in memory (maild.delivery.unrecorded) and
sends them to no one again. Memory does not survive a crash or a stop, and the
spool still says queued, so those copies used to go out again after the
restart. Each held outcome is therefore also appended here, and the journal is
replayed into the store before the next delivery picks anything.

The file is allocated in full when delivery starts (posix_fallocate), so
writing into it later needs no new blocks: it still takes records when the
disk is full. It is cleared (zeroed in place, never shrunk) once the store has
the outcomes. Replaying twice changes nothing: events have natural keys and a
recipient's state is only updated while it is unfinished, and replay runs
before any new attempt. A record torn by a crash mid-write fails its checksum
and is not replayed: that one copy is sent again (at-least-once, as for a
crash in flight). When the journal is full or could not be allocated, outcomes
are held in memory only, as without it, and the log says so.

Records are lines: an 8-digit hex CRC-32 of the JSON that follows, a space,
the outcome as one line of JSON. A NUL byte where a line should start ends the
records.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from maild import logs
from maild.core.events import EventKind
from maild.core.record import StatusRecord
from maild.core.states import DeliveryState
from maild.core.times import iso, parse_iso
from maild.delivery.outcome import Outcome

log = logs.get("delivery")

SIZE = 4 * 1024 * 1024  # bytes taken at start: some 8,000 outcomes of an outage
_ZEROS = 65536


# ------------------------------------------------------------ the codec (pure)


def encode(outcome: Outcome) -> bytes:
    """One record: checksum, space, JSON, newline."""
    r = outcome.record
    body = json.dumps(
        {
            "recipient": outcome.recipient, "message": outcome.message, "state": str(outcome.state),
            "event": str(outcome.event), "attempts": outcome.attempts,
            "next_attempt_at": iso(outcome.next_attempt_at) if outcome.next_attempt_at else None,
            "natural_key": outcome.natural_key, "at": iso(outcome.at),
            "record": {
                "status": r.status, "action": r.action, "reason": r.reason, "hard": r.hard, "diagnostic": r.diagnostic,
                "remote_mta": r.remote_mta, "reply_code": r.reply_code, "reporting_mta": r.reporting_mta,
                "reporting_ua": r.reporting_ua,
            },
        },
        separators=(",", ":"), ensure_ascii=True,
    ).encode("ascii")
    return b"%08x %s\n" % (zlib.crc32(body), body)


class BadRecord(ValueError):
    """A line that is not a whole record (torn by a crash, or not ours)."""


def _text(d: dict[str, object], key: str) -> str:
    value = d.get(key)
    if not isinstance(value, str):
        raise BadRecord(f"{key}: not text")
    return value


def _opt_text(d: dict[str, object], key: str) -> str | None:
    value = d.get(key)
    if value is not None and not isinstance(value, str):
        raise BadRecord(f"{key}: not text")
    return value


def _int(d: dict[str, object], key: str) -> int:
    value = d.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadRecord(f"{key}: not a number")
    return value


def _opt_int(d: dict[str, object], key: str) -> int | None:
    return None if d.get(key) is None else _int(d, key)


def _opt_bool(d: dict[str, object], key: str) -> bool | None:
    value = d.get(key)
    if value is not None and not isinstance(value, bool):
        raise BadRecord(f"{key}: not true or false")
    return value


def decode(line: bytes) -> Outcome:
    """The outcome of one record (without its newline); BadRecord for anything else."""
    crc, _, body = line.partition(b" ")
    try:
        whole = len(crc) == 8 and int(crc, 16) == zlib.crc32(body)
    except ValueError:
        whole = False
    if not whole:
        raise BadRecord("checksum does not match")
    try:
        d = json.loads(body)
    except ValueError as exc:
        raise BadRecord(str(exc)) from None
    if not isinstance(d, dict) or not isinstance(d.get("record"), dict):
        raise BadRecord("not an outcome")
    r = d["record"]
    try:
        state, event = DeliveryState(_text(d, "state")), EventKind(_text(d, "event"))
        next_at = _opt_text(d, "next_attempt_at")
        return Outcome(
            recipient=_int(d, "recipient"), message=_int(d, "message"), state=state, event=event,
            attempts=_int(d, "attempts"), next_attempt_at=parse_iso(next_at) if next_at else None,
            record=StatusRecord(
                status=_opt_text(r, "status"), action=_opt_text(r, "action"), reason=_opt_text(r, "reason"),
                hard=_opt_bool(r, "hard"), diagnostic=_opt_text(r, "diagnostic"), remote_mta=_opt_text(r, "remote_mta"),
                reply_code=_opt_int(r, "reply_code"), reporting_mta=_opt_text(r, "reporting_mta"),
                reporting_ua=_opt_text(r, "reporting_ua"),
            ),
            natural_key=_text(d, "natural_key"), at=parse_iso(_text(d, "at")),
        )
    except ValueError as exc:  # an unknown state or event, a bad time
        raise BadRecord(str(exc)) from None


@dataclass(frozen=True, slots=True)
class Read:
    outcomes: tuple[Outcome, ...]
    end: int  # where the next record goes
    torn: int  # records past the last whole one that could not be read (a crash mid-write)


def read_records(data: bytes) -> Read:
    """Every whole record from the start, up to the first NUL-started line; a torn record ends the reading."""
    outcomes: list[Outcome] = []
    at = 0
    torn = 0
    while at < len(data) and data[at] != 0:
        nl = data.find(b"\n", at)
        if nl < 0:
            torn = 1
            break
        try:
            outcomes.append(decode(data[at:nl]))
        except BadRecord:
            torn = 1
            break
        at = nl + 1
    return Read(tuple(outcomes), at, torn)


# ------------------------------------------------------------ the file


def beside(store_path: Path) -> Path:
    """Where the journal of the store at `store_path` lives: next to it, as SQLite's -wal and -shm files."""
    return store_path.with_name(store_path.name + "-outcomes")


class OutcomeJournal:
    """One preallocated file beside the store; opened by the daemon, shared by every scheduler it builds."""

    def __init__(self, path: Path, size: int = SIZE) -> None:
        self.path = path
        self.size = size
        self._fd: int | None = None
        self._end = 0  # bytes of records written and not yet cleared
        self._dirty = 0  # bytes that may hold records (cleared records included), to zero on clear
        self._full_logged = False

    def open(self) -> OutcomeJournal:
        """Open (creating it 0600) and allocate it in full; a journal that cannot be had is logged, not fatal."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            log.warning("outcome_journal_unavailable", path=str(self.path), error=exc.strerror or str(exc))
            return self
        try:
            have = os.fstat(fd).st_size
            if have < self.size:
                os.posix_fallocate(fd, 0, self.size)
        except OSError as exc:
            # Without the space taken now, a write during an outage would fail like the store's: run without it.
            log.warning("outcome_journal_unavailable", path=str(self.path), error=exc.strerror or str(exc))
            os.close(fd)
            return self
        self._fd = fd
        found = read_records(os.pread(fd, self.size, 0))
        # New records go where the whole ones end (over a torn one); the torn bytes are zeroed at the next clear.
        self._end = found.end
        self._dirty = self.size if found.torn else found.end
        return self

    @property
    def usable(self) -> bool:
        return self._fd is not None

    def pending(self) -> tuple[Outcome, ...]:
        """Outcomes written here and not yet cleared: to be recorded before anything is picked."""
        if self._fd is None:
            return ()
        found = read_records(os.pread(self._fd, self.size, 0))
        if found.torn:
            log.warning("outcome_journal_torn_record", path=str(self.path), after=len(found.outcomes))
        return found.outcomes

    def append(self, outcomes: Iterable[Outcome]) -> bool:
        """Write and sync these outcomes; False (logged once until the next clear) when there is no room or no file."""
        if self._fd is None:
            return False
        data = b"".join(encode(o) for o in outcomes)
        if self._end + len(data) >= self.size:  # keep a NUL after the last record
            if not self._full_logged:
                log.error("outcome_journal_full", path=str(self.path), size=self.size)
                self._full_logged = True
            return False
        try:
            os.pwrite(self._fd, data, self._end)
            os.fdatasync(self._fd)
        except OSError as exc:
            log.error("outcome_journal_write_failed", path=str(self.path), error=exc.strerror or str(exc))
            return False
        self._end += len(data)
        self._dirty = max(self._dirty, self._end)
        return True

    def clear(self) -> None:
        """The store has every outcome written here: zero the records in place (the space stays taken)."""
        if self._fd is None or self._dirty == 0:
            return
        try:
            for start in range(0, self._dirty, _ZEROS):
                os.pwrite(self._fd, bytes(min(_ZEROS, self._dirty - start)), start)
            os.fdatasync(self._fd)
        except OSError as exc:
            # Replaying these again after a restart records nothing twice, so this costs nothing but a log line.
            log.error("outcome_journal_clear_failed", path=str(self.path), error=exc.strerror or str(exc))
            return
        self._end = self._dirty = 0
        self._full_logged = False

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
