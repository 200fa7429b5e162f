"""Schema of the helpdesk-facing side (migration 3): views, webhook delivery, erasure counts.

The three documented views (recipient_status, reply_status, ticket_status)
compute the same states as maild/status.py, in SQL, so a helpdesk can read the
database directly; README.md ("Querying from your helpdesk") describes their columns. They honour the
department switch: with receipts off, read information is NULL/absent and the
states are computed as if no MDN had arrived. Department names match
case-insensitively for ASCII letters in SQL (SQLite's lower()).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils

# The receipts switch of each message: its ticket's department (the latest
# message of the ticket names it), the departments table, else the stored
# default (status_settings.receipts_default, kept equal to tracking.receipts_default).
_MESSAGE_RECEIPTS = """
CREATE VIEW message_receipts AS
SELECT m.id AS message,
       m.ticket AS ticket,
       CASE WHEN m.ticket IS NULL THEN m.department
            ELSE (SELECT m2.department FROM messages m2 WHERE m2.ticket = m.ticket ORDER BY m2.id DESC LIMIT 1)
       END AS department
FROM messages m
"""

_MESSAGE_VISIBILITY = """
CREATE VIEW message_visibility AS
SELECT mr.message, mr.ticket, mr.department,
       COALESCE((SELECT d.receipts_enabled FROM departments d WHERE d.key = lower(trim(mr.department))),
                (SELECT CAST(s.value AS INTEGER) FROM status_settings s WHERE s.name = 'receipts_default'),
                1) AS receipts_enabled
FROM message_receipts mr
"""

_RECIPIENT_STATUS = """
CREATE VIEW recipient_status AS
SELECT x.recipient_id, x.message, x.message_id, x.ticket, x.department, x.receipts_enabled,
       x.address, x.kind,
       CASE
         WHEN x.read_at IS NOT NULL THEN 'read'
         WHEN x.read_outcome = 'denied' THEN 'declined'
         WHEN x.read_outcome = 'deleted' THEN 'deleted_unread'
         WHEN f.id IS NOT NULL THEN CASE f.kind WHEN 'bounced' THEN 'bounced' ELSE 'failed' END
         WHEN x.final_dsn THEN 'delivered'
         WHEN x.progress IN ('accepted', 'expanded') THEN 'delivered'
         WHEN x.progress IN ('deferred', 'delayed') THEN x.progress
         ELSE 'queued'
       END AS state,
       x.delivered_at, x.read_at,
       f.status AS failure_status, f.reason AS failure_reason, f.hard AS failure_hard,
       f.diagnostic AS failure_diagnostic, f.remote_mta AS failure_remote_mta,
       f.source AS failure_source, f.at AS failure_at
FROM (
  SELECT r.id AS recipient_id, r.message AS message, m.message_id AS message_id, v.ticket AS ticket,
         v.department AS department, v.receipts_enabled AS receipts_enabled, r.address AS address, r.kind AS kind,
         (SELECT min(e.at) FROM events e
           WHERE e.recipient = r.id AND +e.kind IN ('accepted', 'delivered', 'relayed', 'expanded')) AS delivered_at,
         CASE WHEN v.receipts_enabled THEN
           (SELECT min(e.at) FROM events e WHERE e.recipient = r.id AND +e.kind = 'displayed') END AS read_at,
         CASE WHEN v.receipts_enabled THEN
           (SELECT e.kind FROM events e WHERE e.recipient = r.id AND +e.kind IN ('denied', 'deleted')
             ORDER BY e.at DESC, e.id DESC LIMIT 1) END AS read_outcome,
         (SELECT e.id FROM events e WHERE e.recipient = r.id AND +e.kind IN ('failed', 'bounced')
           ORDER BY e.at DESC, e.id DESC LIMIT 1) AS failure_id,
         EXISTS (SELECT 1 FROM events e WHERE e.recipient = r.id AND +e.kind IN ('delivered', 'relayed')) AS final_dsn,
         (SELECT e.kind FROM events e
           WHERE e.recipient = r.id AND +e.kind IN ('queued', 'deferred', 'accepted', 'expanded', 'delayed')
           ORDER BY e.at DESC, e.id DESC LIMIT 1) AS progress
  FROM recipients r
  JOIN messages m ON m.id = r.message
  JOIN message_visibility v ON v.message = r.message
) AS x
LEFT JOIN events f ON f.id = x.failure_id
"""
# `+e.kind` keeps SQLite from choosing the (kind, at) index over (recipient, id): a recipient has a handful of
# events, a kind has millions.

_REPLY_STATUS = """
CREATE VIEW reply_status AS
SELECT y.message, y.message_id, y.ticket, y.department, y.receipts_enabled, y.subject, y.queued_at,
       y.recipients, y.state, y.state = 'failed' AS bounce_label
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
                    FROM recipient_status rs WHERE rs.message = m.id) AS a) AS state
  FROM messages m
  JOIN message_visibility v ON v.message = m.id
) AS y
"""

_TICKET_STATUS = """
CREATE VIEW ticket_status AS
SELECT t.ticket,
       (SELECT v.department FROM message_visibility v WHERE v.message = t.last_message) AS department,
       (SELECT v.receipts_enabled FROM message_visibility v WHERE v.message = t.last_message) AS receipts_enabled,
       t.replies, t.first_reply_at, t.last_reply_at,
       (SELECT rs.state FROM reply_status rs WHERE rs.message = t.last_message) AS last_reply_state,
       (SELECT count(*) FROM reply_status rs WHERE rs.ticket = t.ticket AND rs.state = 'failed') AS failed_replies,
       (SELECT count(*) FROM reply_status rs
         WHERE rs.ticket = t.ticket AND rs.state IN ('read', 'read_by_to', 'read_by_cc')) AS read_replies
FROM (SELECT m.ticket AS ticket, count(*) AS replies, max(m.id) AS last_message,
             min(m.received_at) AS first_reply_at, max(m.received_at) AS last_reply_at
        FROM messages m WHERE m.ticket IS NOT NULL GROUP BY m.ticket) AS t
"""


def migrate(db: sqlite_utils.Database) -> None:
    """Views for helpdesks, stored settings they depend on, webhook cursors, erasure counts, indexes."""
    db.execute("CREATE TABLE status_settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute(
        """CREATE TABLE webhook_cursors (
               url TEXT PRIMARY KEY,
               last_event INTEGER NOT NULL,      -- events.id of the last event delivered (or skipped)
               last_part INTEGER NOT NULL DEFAULT 1,  -- 0: the event went, its reply state change may not have
               attempts INTEGER NOT NULL DEFAULT 0,
               next_attempt_at TEXT,
               last_error TEXT,
               updated_at TEXT NOT NULL)"""
    )
    db.execute(
        """CREATE TABLE erased_counts (
               day TEXT NOT NULL,                -- the erased events' own day, YYYY-MM-DD
               kind TEXT NOT NULL,               -- events.kind
               cause TEXT NOT NULL,              -- retention, purge or forget
               count INTEGER NOT NULL,
               PRIMARY KEY (day, kind, cause))"""
    )
    db.execute("CREATE INDEX events_kind_at ON events (kind, at)")
    for sql in (_MESSAGE_RECEIPTS, _MESSAGE_VISIBILITY, _RECIPIENT_STATUS, _REPLY_STATUS, _TICKET_STATUS):
        db.execute(sql)
