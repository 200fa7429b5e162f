"""Schema migration 7: events say what the world said (source), how it reached maild (via), and who reported it.

Before it, an ingested report's event had ``source`` = how it arrived (imap,
maildir, lmtp, pipe) and lost the MDN's Reporting-UA and the DSN's
Reporting-MTA (kept only in the ``detail`` JSON). This migration adds ``via``,
``reporting_mta`` and ``reporting_ua`` to ``events`` and rewrites the old rows:

* ``via`` is the old ``source`` when it names a way in (imap, maildir, lmtp, pipe);
* ``source`` is the report kind the event's ``detail`` recorded (dsn, mdn,
  bounce, autoreply, arf); where the detail does not name one, it is derived
  from the event kind (mdn for read events, autoreply, arf, dsn for
  delivered/relayed/expanded, bounce for bounced/delayed: a DSN and a
  non-standard bounce cannot be told apart without the report);
* ``reporting_mta`` and ``reporting_ua`` come from the detail's report headers.

Events whose source already says what the world said (smtp: our own
delivery, admin, or any other EventSource value) are left as they are, with no via. README.md ("Upgrading") says what could not be derived.
The view recipient_status (as migration 4 left it) gains, at the end, the
failure's via and reporting MTA/UA and the Reporting-UA of the MDN that made
the recipient read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from maild.core.events import READ_KINDS, EventKind, EventSource, Via
from maild.core.states import sql_list
from maild.store import schema_inbound, schema_status

if TYPE_CHECKING:
    import sqlite_utils

_VIAS = sql_list(Via)
_REPORT_SOURCES = sql_list(
    {EventSource.DSN, EventSource.MDN, EventSource.BOUNCE, EventSource.AUTOREPLY, EventSource.ARF}
)
_BY_KIND = f"""CASE
    WHEN kind IN {sql_list(READ_KINDS - {EventKind.OPENED})} THEN 'mdn'
    WHEN kind = 'autoreplied' THEN 'autoreply'
    WHEN kind = 'complained' THEN 'arf'
    WHEN kind = 'opened' THEN 'pixel'
    WHEN kind = 'replied' THEN 'reply'
    WHEN kind IN ('delivered', 'relayed', 'expanded') THEN 'dsn'
    ELSE 'bounce' END"""


def _report(path: str) -> str:
    """A field of the report headers an ingested event's detail kept (NULL when the detail is not JSON)."""
    return f"CASE WHEN json_valid(detail) THEN json_extract(detail, '$.report.{path}') END"


_OLD_LAST = "         AS read_via\nFROM ("
_NEW_LAST = """         AS read_via,
       f.via AS failure_via, f.reporting_mta AS failure_reporting_mta, f.reporting_ua AS failure_reporting_ua,
       CASE WHEN x.read_kind = 'displayed' THEN
         (SELECT e.reporting_ua FROM events e WHERE e.recipient = x.recipient_id AND +e.kind = 'displayed'
           ORDER BY e.at, e.id LIMIT 1) END AS read_reporting_ua
FROM ("""


def recipient_status_view() -> str:
    """Migration 4's recipient_status plus, at the end, the failure's via and reporting MTA/UA and the reading MDN's UA."""
    sql = schema_inbound._RECIPIENT_STATUS
    if sql.count(_OLD_LAST) != 1:
        raise RuntimeError("migration 4's recipient_status view changed; shipped migrations never change")
    return sql.replace(_OLD_LAST, _NEW_LAST)


def migrate(db: sqlite_utils.Database) -> None:
    """New event columns, old rows rewritten (see the module docstring), views recreated with the new columns."""
    for column in ("via", "reporting_mta", "reporting_ua"):
        db.execute(f"ALTER TABLE events ADD COLUMN {column} TEXT")
    report_kind = _report("kind")
    db.execute(
        f"""UPDATE events SET
               via = CASE WHEN source IN {_VIAS} THEN source END,
               source = CASE WHEN {report_kind} IN {_REPORT_SOURCES} THEN {report_kind} ELSE {_BY_KIND} END,
               reporting_mta = {_report("reporting_mta")},
               reporting_ua = {_report("reporting_ua")}
            WHERE source NOT IN {sql_list(EventSource)}"""
    )
    # Dependent views first: SQLite checks a view's references when it is used, so the order is for the reader.
    for view in ("ticket_status", "reply_status", "recipient_status"):
        db.execute(f"DROP VIEW {view}")
    for sql in (recipient_status_view(), schema_status._REPLY_STATUS, schema_status._TICKET_STATUS):
        db.execute(sql)
