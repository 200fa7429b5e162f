"""Schema of the read signals beyond MDNs (migration 4): inbound replies, what inbound sources have seen, the views.

* `inbound_replies` (the replies table): one row per message an [[inbound]]
  source found answering a reply maild sent, with its verdict (`reply` from a
  recipient, `third_party`, `automatic`), a few of its headers (never a body),
  and the recipient it counts for. `key` (the answer's Message-ID, or a hash
  of its header block) makes recording idempotent across sources and restarts.
* `inbound_state`: per IMAP inbound source, UIDVALIDITY and the last UID
  looked at (advanced in the transaction that records what was found).
* `inbound_seen`: per Maildir inbound source, the unique base names of the
  files looked at (the part before `:2,`, which a mail client's flag changes
  keep).
* `recipient_status` is recreated with the rules of maild/readsignals.py:
  replies and human pixel opens count as read, a machine open only with
  status_settings.pixel_count_machine = '1', a declined receipt is overturned
  only by a displayed MDN or a reply; plus the `read_via` column.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils

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
       f.source AS failure_source, f.at AS failure_at,
       CASE x.read_kind WHEN 'displayed' THEN 'mdn' WHEN 'replied' THEN 'reply' WHEN 'opened' THEN 'pixel' END
         AS read_via
FROM (
  SELECT w.*,
         (SELECT e.at FROM events e WHERE e.recipient = w.recipient_id AND w.receipts_enabled AND (
             +e.kind IN ('displayed', 'replied')
             OR (+e.kind = 'opened' AND w.read_outcome_any IS NULL AND (e.action = 'human' OR w.machine_counts)))
           ORDER BY e.at, e.id LIMIT 1) AS read_at,
         (SELECT e.kind FROM events e WHERE e.recipient = w.recipient_id AND w.receipts_enabled AND (
             +e.kind IN ('displayed', 'replied')
             OR (+e.kind = 'opened' AND w.read_outcome_any IS NULL AND (e.action = 'human' OR w.machine_counts)))
           ORDER BY e.at, e.id LIMIT 1) AS read_kind,
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
"""
# A read state beats a declined one, so `read_outcome` may stay set beside `read_at`: the CASE tests read_at first.


def migrate(db: sqlite_utils.Database) -> None:
    db.execute(
        """CREATE TABLE inbound_replies (
               id INTEGER PRIMARY KEY,
               key TEXT NOT NULL UNIQUE,     -- the answer's Message-ID, else sha256 of its header block
               source TEXT NOT NULL,         -- the [[inbound]] source's name (its URL without password)
               via TEXT NOT NULL,            -- imap, maildir, lmtp
               ref TEXT,                     -- UIDVALIDITY:UID, file name, LMTP session
               verdict TEXT NOT NULL,        -- reply, third_party, automatic
               message INTEGER NOT NULL REFERENCES messages (id),   -- the reply maild sent that it answers
               recipient INTEGER REFERENCES recipients (id),        -- who it counts for (verdict reply)
               author TEXT,                  -- the From address (lowercased)
               matched_by TEXT,              -- from, sender or reply-to
               at TEXT NOT NULL,             -- its Date when sane, else when maild saw it
               recorded_at TEXT NOT NULL,
               headers TEXT)                 -- JSON: the few header fields maild read, never a body"""
    )
    db.execute("CREATE INDEX inbound_replies_message ON inbound_replies (message)")
    db.execute(
        """CREATE TABLE inbound_state (
               source TEXT PRIMARY KEY,
               uidvalidity INTEGER NOT NULL,
               last_uid INTEGER NOT NULL,
               updated_at TEXT NOT NULL)"""
    )
    db.execute(
        """CREATE TABLE inbound_seen (
               source TEXT NOT NULL,
               name TEXT NOT NULL,           -- the Maildir file's unique base name
               seen_at TEXT NOT NULL,
               PRIMARY KEY (source, name)) WITHOUT ROWID"""
    )
    db.execute("DROP VIEW recipient_status")
    db.execute(_RECIPIENT_STATUS)
