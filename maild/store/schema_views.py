"""Schema migration 9: the helpdesk views rewritten so SQLite works out each recipient's facts once (same columns, same rows).

SQLite flattens a view into the query that reads it and copies a subquery
column's expression to every place that names it. Migration 7's views named
their correlated subqueries many times over, so one `reply_status` row ran
each recipient's event subqueries dozens of times (`EXPLAIN QUERY PLAN` of
`SELECT * FROM reply_status WHERE ticket = ?`: 219 subqueries; 5d7d2c1's
view, before the read signals, 169). Here:

* `recipient_status` finds the event that made the recipient read once, by id,
  and joins it (as it joins the failure), instead of three copies of the same
  ordered subquery for read_at, read_via and read_reporting_ua; the state is a
  CASE on each fact (`CASE x.progress WHEN ...`), so each fact's subquery runs
  once, not once per WHEN that tests it;
* `reply_status` reads its recipients' states through a subquery SQLite may
  not flatten (`LIMIT -1 OFFSET 0`: an OFFSET keeps a subquery whole), so each
  recipient's state is computed once rather than once per count that tests it;
  `bounce_label` asks whether every recipient failed with NOT EXISTS, which
  stops at the first one that did not, instead of computing the reply's state
  a second time.

The rules are maild/status.py's, as before; tests/store/test_schema_views.py
holds these views to migration 7's on every case of the status table and on
random histories.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from maild.store import schema_status

if TYPE_CHECKING:
    import sqlite_utils

_RECIPIENT_STATUS = """
CREATE VIEW recipient_status AS
SELECT x.recipient_id, x.message, x.message_id, x.ticket, x.department, x.receipts_enabled,
       x.address, x.kind,
       CASE WHEN rd.id IS NOT NULL THEN 'read' ELSE
         CASE x.read_outcome WHEN 'denied' THEN 'declined' WHEN 'deleted' THEN 'deleted_unread' ELSE
           CASE WHEN f.id IS NOT NULL THEN CASE f.kind WHEN 'bounced' THEN 'bounced' ELSE 'failed' END
                WHEN x.final_dsn THEN 'delivered' ELSE
             CASE x.progress WHEN 'accepted' THEN 'delivered' WHEN 'expanded' THEN 'delivered'
                             WHEN 'deferred' THEN 'deferred' WHEN 'delayed' THEN 'delayed' ELSE 'queued' END
           END
         END
       END AS state,
       x.delivered_at, rd.at AS read_at,
       f.status AS failure_status, f.reason AS failure_reason, f.hard AS failure_hard,
       f.diagnostic AS failure_diagnostic, f.remote_mta AS failure_remote_mta,
       f.source AS failure_source, f.at AS failure_at,
       CASE rd.kind WHEN 'displayed' THEN 'mdn' WHEN 'replied' THEN 'reply' WHEN 'opened' THEN 'pixel' END
         AS read_via,
       f.via AS failure_via, f.reporting_mta AS failure_reporting_mta, f.reporting_ua AS failure_reporting_ua,
       CASE WHEN rd.kind = 'displayed' THEN rd.reporting_ua END AS read_reporting_ua
FROM (
  SELECT w.*,
         (SELECT e.id FROM events e WHERE e.recipient = w.recipient_id AND w.receipts_enabled AND (
             +e.kind IN ('displayed', 'replied')
             OR (+e.kind = 'opened' AND w.read_outcome_any IS NULL AND (e.action = 'human' OR w.machine_counts)))
           ORDER BY e.at, e.id LIMIT 1) AS read_id,
         w.read_outcome_any AS read_outcome
  FROM (
    SELECT r.id AS recipient_id, r.message AS message, m.message_id AS message_id, v.ticket AS ticket,
           v.department AS department, v.receipts_enabled AS receipts_enabled, r.address AS address, r.kind AS kind,
           (SELECT min(e.at) FROM events e
             WHERE e.recipient = r.id AND +e.kind IN ('accepted', 'delivered', 'relayed', 'expanded')) AS delivered_at,
           CASE WHEN v.receipts_enabled THEN
             (SELECT e.kind FROM events e WHERE e.recipient = r.id AND +e.kind IN ('denied', 'deleted')
               ORDER BY e.at DESC, e.id DESC LIMIT 1) END AS read_outcome_any,
           coalesce((SELECT s.value = '1' FROM status_settings s WHERE s.name = 'pixel_count_machine'), 0)
             AS machine_counts,
           (SELECT e.id FROM events e WHERE e.recipient = r.id AND +e.kind IN ('failed', 'bounced')
             ORDER BY e.at DESC, e.id DESC LIMIT 1) AS failure_id,
           EXISTS (SELECT 1 FROM events e WHERE e.recipient = r.id AND +e.kind IN ('delivered', 'relayed')) AS final_dsn,
           (SELECT e.kind FROM events e
             WHERE e.recipient = r.id AND +e.kind IN ('queued', 'deferred', 'accepted', 'expanded', 'delayed')
             ORDER BY e.at DESC, e.id DESC LIMIT 1) AS progress
    FROM recipients r
    JOIN messages m ON m.id = r.message
    JOIN message_visibility v ON v.message = r.message
  ) AS w
) AS x
LEFT JOIN events f ON f.id = x.failure_id
LEFT JOIN events rd ON rd.id = x.read_id
"""
# The read event is the first counted signal in (at, id) order; when it is an MDN it is the first `displayed`
# one (every displayed MDN counts), whose Reporting-UA read_reporting_ua always was.

_REPLY_STATUS = """
CREATE VIEW reply_status AS
SELECT y.message, y.message_id, y.ticket, y.department, y.receipts_enabled, y.subject, y.queued_at,
       y.recipients, y.state, y.bounce_label
FROM (
  SELECT m.id AS message, m.message_id AS message_id, m.ticket AS ticket, v.department AS department,
         v.receipts_enabled AS receipts_enabled, m.subject AS subject, m.received_at AS queued_at,
         (SELECT count(*) FROM recipients r WHERE r.message = m.id) AS recipients,
         (SELECT CASE
                   WHEN a.n = 0 THEN 'pending'
                   WHEN a.nf = a.n THEN 'failed'
                   WHEN a.n = 1 THEN CASE WHEN a.nread = 1 THEN 'read'
                                          WHEN a.ndel > 0 THEN 'delivered' ELSE 'pending' END
                   WHEN a.nread = a.n THEN 'read'
                   WHEN a.nread_to > 0 THEN 'read_by_to'
                   WHEN a.nread > 0 THEN 'read_by_cc'
                   WHEN (CASE WHEN a.nvisible > 0 THEN a.ndel_visible ELSE a.ndel END) > 0 THEN 'delivered'
                   ELSE 'pending'
                 END
            FROM (SELECT count(*) AS n,
                         coalesce(sum(rs.state IN ('failed', 'bounced')), 0) AS nf,
                         coalesce(sum(rs.state = 'read'), 0) AS nread,
                         coalesce(sum(rs.state = 'read' AND rs.kind = 'to'), 0) AS nread_to,
                         coalesce(sum(rs.kind <> 'bcc'), 0) AS nvisible,
                         coalesce(sum(rs.state IN ('delivered', 'read', 'declined', 'deleted_unread')), 0) AS ndel,
                         coalesce(sum(rs.state IN ('delivered', 'read', 'declined', 'deleted_unread')
                                      AND rs.kind <> 'bcc'), 0) AS ndel_visible
                    FROM (SELECT s.state AS state, s.kind AS kind FROM recipient_status s
                           WHERE s.message = m.id LIMIT -1 OFFSET 0) AS rs) AS a) AS state,
         EXISTS (SELECT 1 FROM recipients r WHERE r.message = m.id)
           AND NOT EXISTS (SELECT 1 FROM recipient_status s
                            WHERE s.message = m.id AND s.state NOT IN ('failed', 'bounced')) AS bounce_label
  FROM messages m
  JOIN message_visibility v ON v.message = m.id
) AS y
"""
# bounce_label is `state = 'failed'`: that state is exactly "some recipient, and every one failed or bounced".


def migrate(db: sqlite_utils.Database) -> None:
    """The three views recreated (dependent ones first, as migration 7 did); tables and rows are untouched."""
    for view in ("ticket_status", "reply_status", "recipient_status"):
        db.execute(f"DROP VIEW {view}")
    for sql in (_RECIPIENT_STATUS, _REPLY_STATUS, schema_status._TICKET_STATUS):
        db.execute(sql)
