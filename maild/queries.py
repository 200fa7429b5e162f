"""Read queries: load a ticket's replies, recipients and events from the store into maild.status values, and pages of events.

Every function here takes a store handle (`maild.core.sqldb.Db`) and only reads, so it runs
in `Store.read` (the daemon) or on a command's own connection. Read
information is hidden here, once, for departments with receipts off.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence

from maild import departments, switches
from maild.core.events import READ_KINDS, EventKind, EventSource, RecipientKind, Via
from maild.core.frozen import field, frozen, replace
from maild.core.jsonvalue import HIDDEN, INLINE
from maild.core.record import EMPTY, Event, EventPlace, StatusRecord
from maild.core.states import ReplyState, sql_list
from maild.store import EnumColumn, indexed_upto
from maild.store import settings as store_settings
from maild.store import named_rows as _rows
from maild.status import (
    RecipientStatus,
    ThirdPartyAnswer,
    RecipientInput,
    ReplyInput,
    ReplyStatus,
    ThreadInfo,
    WHOLE_EVENT_KINDS,
    recipient_state,
    reply_status,
    thread_info,
)
from maild.core.sqldb import Db

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)
if TYPE_CHECKING:
    from typing import Any, cast
else:
    from maild.core.hints import cast

# One event row, in the order `_event` unpacks it by name; the SELECT list is made from these names, so the hot
# reads (a ticket's events, a page of 1,000) take plain tuples, with no per-row mapping by name. The record's
# columns are StatusRecord's fields in its order (tests/status/test_queries.py holds them to it).
EVENT_FIELDS = ("id", "recipient", "kind", "at", "source", "via", "recorded_at",
                "status", "action", "reason", "hard", "diagnostic", "remote_mta", "reply_code", "reporting_mta",
                "reporting_ua")
# Detail only for read events: the evidence list reads it (Reporting-UA, reply author, pixel label). Written as
# `CASE e.kind WHEN ...` and not `e.kind IN (...)`: SQLite builds an ephemeral index for a list of more than
# two constants each time a statement runs: 0.27 against 0.17 ms of CPU for a ticket's 40 events (`maild status`).
_EVENT_COLUMNS = (
    ", ".join(f"e.{c}" for c in EVENT_FIELDS)
    + ", CASE e.kind " + " ".join(f"WHEN '{k.value}' THEN e.detail" for k in sorted(READ_KINDS)) + " END AS detail"
)
_EVENT_WIDTH = len(EVENT_FIELDS) + 1
_ID, _RECIPIENT, _KIND_AT = (EVENT_FIELDS.index(c) for c in ("id", "recipient", "kind"))
_KIND = EnumColumn(EventKind, "kind")
_SOURCE = EnumColumn(EventSource, "source")
_VIA = EnumColumn(Via, "via")
_RECIPIENT_KIND = EnumColumn(RecipientKind, "recipients.kind")
# The stored kinds status reads by kind and time alone, to their enum member: one dict get per event row.
_LIGHT_KINDS: dict[object, EventKind] = {k.value: k for k in EventKind if k not in WHOLE_EVENT_KINDS}
_IN_CHUNK = 500  # ids bound per `IN (...)`: well under SQLite's limit on bound parameters (999 before 3.32)


def _detail(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _event(row: Sequence[Any], place: EventPlace | None = None) -> Event:
    """One event from a row that starts with `_EVENT_COLUMNS`."""
    (eid, _recipient, kind, at, source, via, recorded_at, status, action, reason, hard, diagnostic, remote_mta,
     reply_code, reporting_mta, reporting_ua, detail) = row[:_EVENT_WIDTH]
    if (status is None and action is None and reason is None and hard is None and diagnostic is None
            and remote_mta is None and reply_code is None and reporting_mta is None and reporting_ua is None):
        record = EMPTY  # queued, accepted without detail...: one shared empty record
    else:
        record = StatusRecord(status, action, reason, None if hard is None else bool(hard), diagnostic, remote_mta,
                              reply_code, reporting_mta, reporting_ua)
    return Event(
        eid,
        _KIND.get(kind) or _KIND.unknown(kind),
        at,
        _SOURCE.get(source) or _SOURCE.unknown(source),
        None if via is None else (_VIA.get(via) or _VIA.unknown(via)),
        record,
        recorded_at,
        place,
        None if detail is None else _detail(detail),
    )


class Visibility:
    """Whether read information of a department is shown; caches per department for one read."""

    def __init__(self, db: Db) -> None:
        self._db = db
        self._default = store_settings.receipts_default(db)  # tracking.receipts_default, as the store keeps it
        self._cache: dict[str | None, bool] = {}

    def __call__(self, department: str | None) -> bool:
        key = None if department is None else departments.key(department)
        if key not in self._cache:
            self._cache[key] = departments.receipts_enabled(self._db, department, self._default)
        return self._cache[key]


def ticket_department(db: Db, ticket: str) -> str | None:
    """A ticket's department is the one its latest message names."""
    row = db.execute("SELECT department FROM messages WHERE ticket = ? ORDER BY id DESC LIMIT 1", (ticket,)).fetchone()
    return None if row is None else cast(str | None, row[0])


def ticket_departments(db: Db, tickets: Iterable[str]) -> dict[str, str | None]:
    """`ticket_department` of many tickets in one read."""
    wanted = list(tickets)
    if not wanted:
        return {}
    marks = ",".join("?" * len(wanted))
    rows = db.execute(
        f"SELECT ticket, department FROM messages WHERE id IN"
        f" (SELECT max(id) FROM messages WHERE ticket IN ({marks}) GROUP BY ticket)",
        wanted,
    ).fetchall()
    return {str(t): d for t, d in rows}


@frozen
class _Message:
    id: int
    message_id: str | None
    subject: str | None
    queued_at: str


def _replies(db: Db, messages: Sequence[_Message], answered: Sequence[int] | None = None) -> list[ReplyInput]:
    """The replies' recipients with their events, and third parties' answers (of `answered`, None: of every one).

    The events are what `maild.status` reads to compute states, nothing more: an event whose kind is not in
    status.WHOLE_EVENT_KINDS (queued, accepted, delivered, delayed...: status reads their kind and time alone) is
    loaded with its id, kind, time and source, without its record; failures and read signals are loaded whole.
    For a ticket of 40 events about 8 are read whole, and the 32 others cost no record, no detail and no wide row.
    """
    ids = [m.id for m in messages]
    marks = ",".join("?" * len(ids))
    # Recipients and their events in one statement (a recipient without events: one row of NULL event columns);
    # rows come in no promised order, so recipients are put in id order below and events sorted by status.
    recipients: dict[int, tuple[int, str, RecipientKind]] = {}
    by_recipient: dict[int, list[Event]] = defaultdict(list)
    whole: list[int] = []
    for rid, message, address, recipient_kind, eid, kind, at, source in db.execute(
        "SELECT r.id, r.message, r.address, r.kind, e.id, e.kind, e.at, e.source FROM recipients r"
        f" LEFT JOIN events e ON e.recipient = r.id WHERE r.message IN ({marks})",
        ids,
    ):
        if rid not in recipients:
            kind_ = _RECIPIENT_KIND.get(recipient_kind) or _RECIPIENT_KIND.unknown(recipient_kind)
            recipients[rid] = (message, address, kind_)
        if eid is None:
            continue
        light = _LIGHT_KINDS.get(kind)
        if light is None:  # a failure or read signal, or a kind this maild does not know (_event says so)
            whole.append(eid)
        else:
            by_recipient[rid].append(Event(eid, light, at, _SOURCE.get(source) or _SOURCE.unknown(source)))
    for start in range(0, len(whole), _IN_CHUNK):
        chunk = whole[start:start + _IN_CHUNK]
        for row in db.execute(f"SELECT {_EVENT_COLUMNS} FROM events e WHERE e.id IN ({','.join('?' * len(chunk))})",
                              chunk):
            by_recipient[row[_RECIPIENT]].append(_event(row))
    by_message: dict[int, list[RecipientInput]] = defaultdict(list)
    for rid in sorted(recipients):
        message, address, kind = recipients[rid]
        by_message[message].append(RecipientInput(address, kind, tuple(by_recipient[rid])))
    answers: dict[int, list[ThirdPartyAnswer]] = defaultdict(list)
    asked = ids if answered is None else list(answered)
    if asked:
        for message, author, at in db.execute(
            f"SELECT message, author, at FROM inbound_replies WHERE message IN ({','.join('?' * len(asked))})"
            " AND verdict = 'third_party' ORDER BY at, id",
            asked,
        ):
            answers[message].append(ThirdPartyAnswer(author, at))
    return [
        ReplyInput(m.message_id, m.subject, m.queued_at, tuple(by_message[m.id]), tuple(answers[m.id])) for m in messages
    ]


def count_machine_opens(db: Db) -> bool:
    """[pixel] count_machine_opens as stored for the SQL views (status_settings.pixel_count_machine)."""
    row = db.execute("SELECT value FROM status_settings WHERE name = 'pixel_count_machine'").fetchone()
    return row is not None and row[0] == "1"


def load_thread(db: Db, ticket: str) -> ThreadInfo | None:
    """Thread read info of one ticket, or None when maild has no message of it."""
    page = load_thread_page(db, ticket)
    return None if page is None else page.info


@frozen
class ThreadPage:
    """Some replies of a ticket, in thread order, and where the next page starts."""

    info: ThreadInfo
    message_ids: tuple[int, ...]  # the store's row ids of the replies shown (for their timelines)
    next_after: int | None  # pass as `after` for the next replies; None: these were the last


def load_thread_page(
    db: Db, ticket: str, *, after: int = 0, limit: int | None = None
) -> ThreadPage | None:
    """Replies of one ticket after the cursor `after` (a row id: keyset paging), at most `limit` (None: all).

    None when maild has no message of the ticket at all; an empty page when the cursor is past its last reply.
    """
    # Each reply with its department and whether a third party answered it (their answers are read only then),
    # and the settings generation: `maild status` reads a ticket in four statements (replies, switches, recipients
    # with events, the failures and read signals whole), and a handle that read the same department's switches at
    # the same generation before (the daemon's API, the web panel) in three.
    sql = _PAGE_SQL
    params: list[object] = [ticket, after]
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit + 1)
    rows = db.execute(sql, params).fetchall()
    more = limit is not None and len(rows) > limit
    rows = rows[:limit] if limit is not None else rows
    if not rows and (after == 0 or not _has_ticket(db, ticket)):
        return None
    # The ticket's department is its latest message's: the last row's when the page reaches the ticket's end.
    department = cast(str | None, rows[-1][4]) if rows and not more else ticket_department(db, ticket)
    visible, machine = _held_switches(db, department, rows[0][6] if rows else switches.generation(db))
    messages = [_Message(mid, message_id, subject, received_at) for mid, message_id, subject, received_at, *_ in rows]
    answered = [row[0] for row in rows if row[5]]
    replies = _replies(db, messages, answered) if messages else []
    info = thread_info(ticket, department, visible, replies, count_machine_opens=machine)
    return ThreadPage(info, tuple(m.id for m in messages), messages[-1].id if more else None)


_PAGE_SQL = (
    "SELECT m.id, m.message_id, m.subject, m.received_at, m.department,"
    " EXISTS (SELECT 1 FROM inbound_replies i WHERE i.message = m.id AND i.verdict = 'third_party'),"
    f" {switches.GENERATION}"
    " FROM messages m WHERE m.ticket = ? AND m.id > ? ORDER BY m.id"
)


def _held_switches(db: Db, department: str | None, generation: object) -> tuple[bool, bool]:
    """`_switches(db, department)`, read once per handle and settings generation (held by maild.switches: the
    triggers of schema migration 10 bump it in the transaction of every change of departments and status_settings)."""
    return switches.held(db, generation, ("page switches", department), lambda: _switches(db, department))


def _switches(db: Db, department: str | None) -> tuple[bool, bool]:
    """Whether the department's read information is shown, and whether machine opens count, in one statement.

    The same answers as `Visibility(db)(department)` and `count_machine_opens(db)` (tests/status/test_queries.py).
    """
    default, machine, own = db.execute(
        f"SELECT {store_settings.RECEIPTS_DEFAULT_SQL},"
        " (SELECT value FROM status_settings WHERE name = 'pixel_count_machine'),"
        " (SELECT receipts_enabled FROM departments WHERE key = ?)",
        (departments.key(department) if department else None,),
    ).fetchone()
    return departments.switched_on(department, own, store_settings.default_of(default)), machine == "1"


def _has_ticket(db: Db, ticket: str) -> bool:
    return db.execute("SELECT 1 FROM messages WHERE ticket = ? LIMIT 1", (ticket,)).fetchone() is not None


@frozen
class MessageInfo:
    """One reply with the ticket it belongs to (GET /v1/messages/{message_id})."""

    ticket: str | None
    department: str | None
    receipts_enabled: bool
    reply: ReplyStatus = field(metadata=INLINE)


def load_message(db: Db, message_id: str) -> MessageInfo | None:
    """One reply by its Message-ID header (with or without angle brackets); the latest when several share it."""
    wanted = message_id.strip()
    if not wanted.startswith("<"):
        wanted = f"<{wanted}>"
    rows = _rows(
        db,
        "SELECT id, message_id, subject, received_at, ticket, department FROM messages"
        " WHERE message_id = ? ORDER BY id DESC LIMIT 1",
        (wanted,),
    )
    if not rows:
        return None
    row = rows[0]
    ticket, department = row["ticket"], row["department"]
    if ticket is not None:
        department = ticket_department(db, ticket)
    visible = Visibility(db)(department)
    message = _Message(row["id"], row["message_id"], row["subject"], row["received_at"])
    (reply,) = _replies(db, [message])
    machine = count_machine_opens(db)
    recipients = [
        recipient_state(r.events, address=r.address, kind=r.kind, receipts_enabled=visible, count_machine_opens=machine)
        for r in reply.recipients
    ]
    status = reply_status(message_id=message.message_id, subject=message.subject, queued_at=message.queued_at,
                          recipients=recipients, third_party=reply.third_party if visible else ())
    return MessageInfo(ticket, department, visible, status)


# ------------------------------------------------------------------ events


@frozen
class EventPage:
    events: tuple[Event, ...]  # each with its place (ticket, message, recipient)
    next: int  # pass as `after` for the next page: the last event id looked at (hidden ones included)
    more: bool  # the page was full: there may be more right away


def list_events(
    db: Db,
    *,
    after: int = 0,
    limit: int = 1000,
    ticket: str | None = None,
    recipient: str | None = None,
    since: str | None = None,
) -> EventPage:
    """Events with id > after in id order; read events of departments with receipts off are left out."""
    where: list[str] = ["e.id > ?"]
    params: list[object] = [after]
    if ticket is not None:
        where.append("e.message IN (SELECT id FROM messages WHERE ticket = ?)")
        params.append(ticket)
    if recipient is not None:
        where.append("e.recipient IN (SELECT id FROM recipients WHERE address = ? COLLATE NOCASE)")
        params.append(recipient)
    if since is not None:
        where.append("e.recorded_at >= ?")
        params.append(since)
    cursor = db.execute(
        # The department decides only whether a read event is shown: looked up (a subquery per row) for those alone.
        f"""SELECT {_EVENT_COLUMNS}, e.message, m.ticket, m.message_id, r.address, r.kind,
                   CASE WHEN e.kind NOT IN {sql_list(READ_KINDS)} THEN NULL
                        WHEN m.ticket IS NULL THEN m.department
                        ELSE (SELECT m2.department FROM messages m2 WHERE m2.ticket = m.ticket
                              ORDER BY m2.id DESC LIMIT 1) END
            FROM events e JOIN recipients r ON r.id = e.recipient JOIN messages m ON m.id = e.message
            WHERE {' AND '.join(where)} ORDER BY e.id LIMIT ?""",
        [*params, limit],
    )
    # Departments' switches as maild.switches holds them per handle and settings generation: one statement a
    # page while no setting changes, not one per department seen (and one for the default).
    visible = switches.current(db, switches.generation(db)).receipts_enabled
    out = []
    places: dict[int, EventPlace] = {}  # one place per copy: a page holds several events of most recipients
    # Row by row from the cursor, not fetchall(): a page's 1,000 row tuples never live at once beside its
    # records, which is as many objects fewer for the garbage collector to count (a collection every 700).
    last, seen = after, 0
    for row in cursor:
        last, seen = row[_ID], seen + 1
        message, ticket, message_id, address, recipient_kind, department = row[_EVENT_WIDTH:]
        if row[_KIND_AT] in READ_KINDS and not visible(department):
            continue
        place = places.get(row[_RECIPIENT])
        if place is None:
            kind = _RECIPIENT_KIND.get(recipient_kind) or _RECIPIENT_KIND.unknown(recipient_kind)
            place = places[row[_RECIPIENT]] = EventPlace(message, ticket, message_id, address, kind)
        out.append(_event(row, place))
    return EventPage(tuple(out), last, seen == limit)


def latest_event_id(db: Db) -> int:
    return int(db.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0])


def reply_state_around(
    db: Db, message: int, event_id: int, visible: Callable[[str | None], bool]
) -> tuple[ReplyState, ReplyState]:
    """A reply's state just before and just after one of its events (for webhooks' state changes)."""
    before, after, _ = reply_around(db, message, event_id, visible)
    return before, after


def reply_around(
    db: Db, message: int, event_id: int, visible: Callable[[str | None], bool]
) -> tuple[ReplyState, ReplyState, dict[str, RecipientStatus]]:
    """`reply_state_around`, plus each recipient's status (read_via, evidence) just after the event, by address."""
    (row,) = _rows(db, "SELECT ticket, department FROM messages WHERE id = ?", (message,))
    ticket = row["ticket"]
    shown = visible(ticket_department(db, ticket) if ticket is not None else row["department"])
    recipients = _rows(db, "SELECT id, address, kind FROM recipients WHERE message = ? ORDER BY id", (message,))
    by_recipient: dict[int, list[Event]] = defaultdict(list)
    for ev in db.execute(f"SELECT {_EVENT_COLUMNS} FROM events e WHERE e.message = ? AND e.id <= ?",
                         (message, event_id)):
        by_recipient[ev[_RECIPIENT]].append(_event(ev))
    machine = count_machine_opens(db)

    def statuses(upto: int) -> list[RecipientStatus]:
        return [
            recipient_state(
                [e for e in by_recipient[r["id"]] if e.id <= upto],
                address=r["address"],
                kind=RecipientKind(r["kind"]),
                receipts_enabled=shown,
                count_machine_opens=machine,
            )
            for r in recipients
        ]

    def state(of: list[RecipientStatus]) -> ReplyState:
        return reply_status(message_id=None, subject=None, queued_at="", recipients=of).state

    after = statuses(event_id)
    return state(statuses(event_id - 1)), state(after), {r.address: r for r in after}


# ------------------------------------------------------------------ reply lists, timelines, departments (web panel)


@frozen
class ReplyRow:
    """One tracked reply in a list: its row id (the paging cursor), ticket, department and state."""

    id: int
    ticket: str | None
    department: str | None
    receipts_enabled: bool
    reply: ReplyStatus


@frozen
class ReplyPage:
    rows: tuple[ReplyRow, ...]
    more: bool  # there are older replies: ask again with before = rows[-1].id


def _prefix_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _phrase(text: str) -> str:
    """A full-text query that is one phrase: the trigram index finds it anywhere in a subject, any case."""
    return '"' + text.replace('"', '""') + '"'


SEARCH_MIN_SUBSTRING = 3  # the trigram index finds substrings of three characters or more


def _search_ids(db: Db, term: str, before: int | None, limit: int) -> list[int]:
    """Ids of tracked messages matching `term`, newest first: the union of one index-backed query per field.

    The ticket exactly; the department by name (any case); a recipient address exactly or, from three
    characters, by its beginning (any case); the subject containing it, from three characters. Each
    query is bounded by `limit` on its own, so a page never reads more than a few index ranges.
    """
    below = (1 << 62) if before is None else before
    found: set[int] = set()
    queries: list[tuple[str, tuple[object, ...]]] = [
        ("SELECT id FROM messages WHERE ticket = ? AND id < ? AND tracked = 1 ORDER BY id DESC LIMIT ?",
         (term, below, limit)),
        ("SELECT id FROM messages WHERE department = ? COLLATE NOCASE AND id < ? AND tracked = 1"
         " ORDER BY id DESC LIMIT ?", (term, below, limit)),
    ]
    if len(term) >= SEARCH_MIN_SUBSTRING:
        queries.append((
            "SELECT DISTINCT r.message FROM recipients r JOIN messages m ON m.id = r.message"
            " WHERE r.address LIKE ? ESCAPE '\\' AND r.message < ? AND m.tracked = 1 ORDER BY r.message DESC LIMIT ?",
            (_prefix_like(term), below, limit),
        ))
        upto = indexed_upto(db)  # the index reaches this far; the few newer messages are read directly
        queries.append((
            "SELECT s.rowid FROM message_subjects s WHERE message_subjects MATCH ? AND s.rowid < ? AND s.rowid <= ?"
            " AND (SELECT tracked FROM messages WHERE id = s.rowid) = 1 ORDER BY s.rowid DESC LIMIT ?",
            (_phrase(term), below, upto, limit),
        ))
        queries.append((
            "SELECT id FROM messages WHERE id > ? AND id < ? AND tracked = 1 AND subject LIKE ? ESCAPE '\\'"
            " ORDER BY id DESC LIMIT ?",
            (upto, below, "%" + _prefix_like(term), limit),
        ))
    else:
        queries.append((
            "SELECT DISTINCT message FROM recipients WHERE address = ? COLLATE NOCASE AND message < ?"
            " ORDER BY message DESC LIMIT ?", (term, below, limit),
        ))
    for sql, params in queries:
        found.update(int(r[0]) for r in db.execute(sql, params))
    return sorted(found, reverse=True)[:limit]


def list_replies(
    db: Db, *, search: str = "", before: int | None = None, limit: int = 50
) -> ReplyPage:
    """Tracked replies newest first, `limit` a page, older than the `before` cursor (a row id: keyset paging).

    `search` matches the ticket exactly, the department by name, a recipient address exactly or by its
    beginning, or a part of the subject (see `_search_ids`); every match is read through an index.
    """
    columns = "id, message_id, subject, received_at, ticket, department"
    term = search.strip()
    if term:
        ids = _search_ids(db, term, before, limit + 1)
        marks = ",".join("?" * len(ids))
        rows = db.execute(
            f"SELECT {columns} FROM messages WHERE id IN ({marks}) ORDER BY id DESC", ids
        ).fetchall() if ids else []
    elif before is not None:
        rows = db.execute(
            f"SELECT {columns} FROM messages WHERE tracked = 1 AND id < ? ORDER BY id DESC LIMIT ?", (before, limit + 1)
        ).fetchall()
    else:
        rows = db.execute(
            f"SELECT {columns} FROM messages WHERE tracked = 1 ORDER BY id DESC LIMIT ?", (limit + 1,)
        ).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    if not rows:
        return ReplyPage((), False)
    replies = _replies(db, [_Message(r[0], r[1], r[2], r[3]) for r in rows])
    visible = Visibility(db)
    machine = count_machine_opens(db)
    # The ticket's latest message names its department, as everywhere else: one read for the page's tickets.
    thread_departments = ticket_departments(db, {r[4] for r in rows if r[4] is not None})
    out = []
    for row, reply in zip(rows, replies, strict=True):
        mid, ticket, department = row[0], row[4], row[5]
        if ticket is not None:
            department = thread_departments.get(ticket, department)
        shown = visible(department)
        status = thread_info(ticket or "", department, shown, [reply], count_machine_opens=machine).replies[0]
        out.append(ReplyRow(mid, ticket, department, shown, status))
    return ReplyPage(tuple(out), more)


def thread_timelines(
    db: Db, ticket: str, messages: Sequence[int] | None = None
) -> dict[tuple[str | None, str], tuple[Event, ...]]:
    """Every event of a ticket's recipients, keyed by (Message-ID, address), in (at, id) order.

    `messages`: only those replies (row ids, as a ThreadPage names them). Read events are left out
    for a department with receipts off, as everywhere else. An event stored before migration 5 kept its
    report's Reporting-MTA and Reporting-UA only in its detail: they are read from there.
    """
    shown = Visibility(db)(ticket_department(db, ticket))
    columns = f"""{_EVENT_COLUMNS}, e.detail, m.message_id, r.address
             FROM events e JOIN recipients r ON r.id = e.recipient JOIN messages m ON m.id = e.message"""
    if messages is None:
        rows = db.execute(f"SELECT {columns} WHERE m.ticket = ? ORDER BY e.at, e.id", (ticket,)).fetchall()
    elif not messages:
        return {}
    else:
        marks = ",".join("?" * len(messages))
        rows = db.execute(f"SELECT {columns} WHERE e.message IN ({marks}) ORDER BY e.at, e.id", list(messages)).fetchall()
    out: dict[tuple[str | None, str], list[Event]] = defaultdict(list)
    for row in rows:
        detail, message_id, address = row[_EVENT_WIDTH:]
        if row[_KIND_AT] in READ_KINDS and not shown:
            continue
        event = _event(row)
        record = event.record
        if (record.reporting_mta is None or record.reporting_ua is None) and detail:
            event = replace(event, record=_reported_by(record, _detail(detail)))
        out[(message_id, address)].append(event)
    return {k: tuple(v) for k, v in out.items()}


def _reported_by(record: StatusRecord, detail: Mapping[str, Any] | None) -> StatusRecord:
    inner = (detail or {}).get("report")
    report = inner if isinstance(inner, Mapping) else {}
    mta = record.reporting_mta or _text(report.get("reporting_mta"))
    ua = record.reporting_ua or _text(report.get("reporting_ua"))
    if (mta, ua) == (record.reporting_mta, record.reporting_ua):
        return record
    return replace(record, reporting_mta=mta, reporting_ua=ua)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


@frozen
class DepartmentRow:
    name: str
    receipts_enabled: bool
    explicit: bool  # False: follows tracking.receipts_default
    replies: int  # tracked messages that name it
    updated_at: str | None = field(metadata=HIDDEN)  # not in the API: last_switch says when, and by whom
    last_switch: departments.Switch | None = None  # who switched it last, when, to what (None: never switched)


def department_overview(
    db: Db, *, configured: Iterable[str] = ()
) -> list[DepartmentRow]:
    """Every department with a setting, seen on mail or configured, by name, with how many replies name it."""
    default = store_settings.receipts_default(db)
    rows: dict[str, DepartmentRow] = {}
    for name, enabled, updated_at in db.execute("SELECT name, receipts_enabled, updated_at FROM departments"):
        rows[departments.key(name)] = DepartmentRow(name, bool(enabled), True, 0, updated_at)
    counts: dict[str, int] = defaultdict(int)
    names: dict[str, str] = {}
    for name, n in db.execute(
        "SELECT department, count(*) FROM messages WHERE department IS NOT NULL GROUP BY department"
    ):
        counts[departments.key(name)] += int(n)
        names.setdefault(departments.key(name), name.strip())
    for name in configured:
        names.setdefault(departments.key(name), name.strip())
    for k, name in names.items():
        if k and k not in rows:
            rows[k] = DepartmentRow(name, default, False, 0, None)
    switches = departments.last_switches(db)
    return sorted(
        (DepartmentRow(r.name, r.receipts_enabled, r.explicit, counts.get(k, 0), r.updated_at, switches.get(k))
         for k, r in rows.items()),
        key=lambda r: departments.key(r.name),
    )


def event_tickets_after(db: Db, after: int, limit: int = 10000) -> tuple[int, frozenset[str]]:
    """The newest event id and the tickets whose events came after `after` (for live pages)."""
    rows = db.execute(
        "SELECT e.id, m.ticket FROM events e JOIN messages m ON m.id = e.message WHERE e.id > ? ORDER BY e.id LIMIT ?",
        (after, limit),
    ).fetchall()
    if not rows:
        return after, frozenset()
    return int(rows[-1][0]), frozenset(t for _, t in rows if t is not None)

