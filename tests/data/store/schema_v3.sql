-- A maild database of schema version 3, written by tests/data/store/make_schema_v3.py (commit 0951045).
BEGIN TRANSACTION;
CREATE TABLE "departments" (
   "key" TEXT PRIMARY KEY,
   "name" TEXT NOT NULL,
   "receipts_enabled" INTEGER NOT NULL,
   "updated_at" TEXT
);
CREATE TABLE erased_counts (
               day TEXT NOT NULL,                -- the erased events' own day, YYYY-MM-DD
               kind TEXT NOT NULL,               -- events.kind
               cause TEXT NOT NULL,              -- retention, purge or forget
               count INTEGER NOT NULL,
               PRIMARY KEY (day, kind, cause));
CREATE TABLE "events" (
   "id" INTEGER PRIMARY KEY,
   "recipient" INTEGER NOT NULL REFERENCES "recipients"("id"),
   "message" INTEGER NOT NULL REFERENCES "messages"("id"),
   "kind" TEXT NOT NULL,
   "at" TEXT NOT NULL,
   "recorded_at" TEXT NOT NULL,
   "source" TEXT NOT NULL,
   "status" TEXT,
   "action" TEXT,
   "reason" TEXT,
   "hard" INTEGER,
   "diagnostic" TEXT,
   "remote_mta" TEXT,
   "reply_code" INTEGER,
   "detail" TEXT,
   "natural_key" TEXT
);
INSERT INTO "events" VALUES(1,1,1,'queued','2026-03-01T12:00:00.000Z','2026-03-01T12:00:00.000Z','smtp',NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "events" VALUES(2,2,1,'queued','2026-03-01T12:00:00.000Z','2026-03-01T12:00:00.000Z','smtp',NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "events" VALUES(3,3,1,'queued','2026-03-01T12:00:00.000Z','2026-03-01T12:00:00.000Z','smtp',NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "events" VALUES(4,4,1,'queued','2026-03-01T12:00:00.000Z','2026-03-01T12:00:00.000Z','smtp',NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "events" VALUES(5,5,1,'queued','2026-03-01T12:00:00.000Z','2026-03-01T12:00:00.000Z','smtp',NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "events" VALUES(6,6,1,'queued','2026-03-01T12:00:00.000Z','2026-03-01T12:00:00.000Z','smtp',NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "events" VALUES(7,7,1,'queued','2026-03-01T12:00:00.000Z','2026-03-01T12:00:00.000Z','smtp',NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "events" VALUES(8,1,1,'accepted','2026-03-01T12:01:00.000Z','2026-03-01T12:01:00.000Z','smtp',NULL,'accepted',NULL,NULL,'250 2.0.0 Ok','mx.example.net',250,NULL,'smtp:1');
INSERT INTO "events" VALUES(9,2,1,'accepted','2026-03-01T12:01:00.000Z','2026-03-01T12:01:00.000Z','smtp',NULL,'accepted',NULL,NULL,'250 2.0.0 Ok','mx.example.net',250,NULL,'smtp:2');
INSERT INTO "events" VALUES(10,3,1,'accepted','2026-03-01T12:01:00.000Z','2026-03-01T12:01:00.000Z','smtp',NULL,'accepted',NULL,NULL,'250 2.0.0 Ok','mx.example.net',250,NULL,'smtp:3');
INSERT INTO "events" VALUES(11,4,1,'accepted','2026-03-01T12:01:00.000Z','2026-03-01T12:01:00.000Z','smtp',NULL,'accepted',NULL,NULL,'250 2.0.0 Ok','mx.example.net',250,NULL,'smtp:4');
INSERT INTO "events" VALUES(12,5,1,'accepted','2026-03-01T12:01:00.000Z','2026-03-01T12:01:00.000Z','smtp',NULL,'accepted',NULL,NULL,'250 2.0.0 Ok','mx.example.net',250,NULL,'smtp:5');
INSERT INTO "events" VALUES(13,6,1,'accepted','2026-03-01T12:01:00.000Z','2026-03-01T12:01:00.000Z','smtp',NULL,'accepted',NULL,NULL,'250 2.0.0 Ok','mx.example.net',250,NULL,'smtp:6');
INSERT INTO "events" VALUES(14,7,1,'failed','2026-03-01T12:01:00.000Z','2026-03-01T12:01:00.000Z','smtp','5.1.1','failed','userunknown',1,'550 5.1.1 no such user',NULL,550,NULL,'smtp:failed');
INSERT INTO "events" VALUES(15,1,1,'delivered','2026-03-01T12:02:00.000Z','2026-03-01T12:02:00.000Z','maildir','2.0.0','delivered',NULL,NULL,NULL,'mx.example.net',NULL,'{"ingest_source": "maildir", "matched_by": "token", "received_at": "2026-03-01T12:02:00.000Z", "recipient": {"action": "delivered", "address": "dsn@example.net", "diagnostic": null, "disposition": null, "disposition_modifiers": [], "hard": null, "last_attempt_date": null, "original_recipient": null, "reason": null, "remote_mta": null, "status": "2.0.0", "will_retry_until": null}, "ref": "", "report": {"arrival_date": null, "date": null, "envelope_id": null, "fingerprint": "fp1", "kind": "dsn", "message_id": "<r1@x>", "original_message_id": null, "problems": [], "reporting_mta": "mx.example.net", "reporting_ua": null, "subject": "report"}}','fp1:1:delivered');
INSERT INTO "events" VALUES(16,2,1,'bounced','2026-03-01T12:03:00.000Z','2026-03-01T12:03:00.000Z','imap','5.2.2','failed','mailboxfull',0,'smtp; 552 5.2.2 mailbox full','mail.example.net',552,'{"ingest_source": "imap", "matched_by": "token", "received_at": "2026-03-01T12:03:00.000Z", "recipient": {"action": "failed", "address": "bounce@example.net", "diagnostic": "smtp; 552 5.2.2 mailbox full", "disposition": null, "disposition_modifiers": [], "hard": false, "last_attempt_date": null, "original_recipient": null, "reason": "mailboxfull", "remote_mta": "mail.example.net", "status": "5.2.2", "will_retry_until": null}, "ref": "", "report": {"arrival_date": null, "date": null, "envelope_id": null, "fingerprint": "fp2", "kind": "dsn", "message_id": "<r2@x>", "original_message_id": null, "problems": [], "reporting_mta": "relay.example.net", "reporting_ua": null, "subject": "report"}}','fp2:2:bounced');
INSERT INTO "events" VALUES(17,3,1,'displayed','2026-03-01T12:04:00.000Z','2026-03-01T12:04:00.000Z','imap',NULL,'displayed',NULL,NULL,NULL,NULL,NULL,'{"ingest_source": "imap", "matched_by": "token", "received_at": "2026-03-01T12:04:00.000Z", "recipient": {"action": null, "address": "mdn@example.net", "diagnostic": null, "disposition": "displayed", "disposition_modifiers": [], "hard": null, "last_attempt_date": null, "original_recipient": null, "reason": null, "remote_mta": null, "status": null, "will_retry_until": null}, "ref": "", "report": {"arrival_date": null, "date": null, "envelope_id": null, "fingerprint": "fp3", "kind": "mdn", "message_id": "<r3@x>", "original_message_id": null, "problems": [], "reporting_mta": null, "reporting_ua": "Mozilla Thunderbird 115", "subject": "report"}}','fp3:3:displayed');
INSERT INTO "events" VALUES(18,6,1,'bounced','2026-03-01T12:05:00.000Z','2026-03-01T12:05:00.000Z','lmtp','5.1.1','failed','userunknown',1,NULL,NULL,NULL,'{"ingest_source": "lmtp", "matched_by": "token", "received_at": "2026-03-01T12:05:00.000Z", "recipient": {"action": "failed", "address": "gone@example.net", "diagnostic": null, "disposition": null, "disposition_modifiers": [], "hard": true, "last_attempt_date": null, "original_recipient": null, "reason": "userunknown", "remote_mta": null, "status": "5.1.1", "will_retry_until": null}, "ref": "", "report": {"arrival_date": null, "date": null, "envelope_id": null, "fingerprint": "fp4", "kind": "bounce", "message_id": "<r4@x>", "original_message_id": null, "problems": [], "reporting_mta": null, "reporting_ua": null, "subject": "report"}}','fp4:6:bounced');
INSERT INTO "events" VALUES(19,4,1,'autoreplied','2026-03-01T12:06:00.000Z','2026-03-01T12:06:00.000Z','pipe',NULL,'autoreply','vacation',NULL,NULL,NULL,NULL,'{"ingest_source": "pipe", "matched_by": "token", "received_at": "2026-03-01T12:06:00.000Z", "recipient": {"action": null, "address": "auto@example.net", "diagnostic": null, "disposition": null, "disposition_modifiers": [], "hard": null, "last_attempt_date": null, "original_recipient": null, "reason": "vacation", "remote_mta": null, "status": null, "will_retry_until": null}, "ref": "", "report": {"arrival_date": null, "date": null, "envelope_id": null, "fingerprint": "fp5", "kind": "autoreply", "message_id": "<r5@x>", "original_message_id": null, "problems": [], "reporting_mta": null, "reporting_ua": null, "subject": "report"}}','fp5:4:autoreplied');
INSERT INTO "events" VALUES(20,5,1,'complained','2026-03-01T12:07:00.000Z','2026-03-01T12:07:00.000Z','pipe',NULL,'arf','feedback',NULL,NULL,'fbl.example.net',NULL,'{"ingest_source": "pipe", "matched_by": "token", "received_at": "2026-03-01T12:07:00.000Z", "recipient": {"action": null, "address": "arf@example.net", "diagnostic": null, "disposition": null, "disposition_modifiers": [], "hard": null, "last_attempt_date": null, "original_recipient": null, "reason": "feedback", "remote_mta": null, "status": null, "will_retry_until": null}, "ref": "", "report": {"arrival_date": null, "date": null, "envelope_id": null, "fingerprint": "fp6", "kind": "arf", "message_id": "<r6@x>", "original_message_id": null, "problems": [], "reporting_mta": "fbl.example.net", "reporting_ua": null, "subject": "report"}}','fp6:5:complained');
INSERT INTO "events" VALUES(21,8,2,'queued','2026-03-01T12:00:00.000Z','2026-03-01T12:00:00.000Z','smtp',NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "events" VALUES(22,8,2,'failed','2026-03-01T12:30:00.000Z','2026-03-01T12:30:00.000Z','admin',NULL,'failed','deleted by admin',0,'deleted by admin',NULL,NULL,NULL,'admin-delete:8');
CREATE TABLE "imap_state" (
   "source" TEXT PRIMARY KEY,
   "uidvalidity" INTEGER NOT NULL,
   "last_uid" INTEGER NOT NULL,
   "updated_at" TEXT NOT NULL
);
CREATE TABLE "messages" (
   "id" INTEGER PRIMARY KEY,
   "queue_id" TEXT NOT NULL,
   "message_id" TEXT,
   "ticket" TEXT,
   "department" TEXT,
   "sender" TEXT NOT NULL,
   "subject" TEXT,
   "size" INTEGER DEFAULT 0,
   "peer" TEXT,
   "received_at" TEXT NOT NULL,
   "tracked" INTEGER DEFAULT 1,
   "receipts_requested" INTEGER DEFAULT 0,
   "held" INTEGER DEFAULT 0,
   "headers" BLOB NOT NULL,
   "body" BLOB,
   "finished_at" TEXT
);
INSERT INTO "messages" VALUES(1,'Q0000000001','<m1@helpdesk.example.com>','1234','Billing','agent@helpdesk.example.com','[#1234] hello',69,'','2026-03-01T12:00:00.000Z',1,1,0,X'4D6573736167652D49443A203C6D314068656C706465736B2E6578616D706C652E636F6D3E0D0A5375626A6563743A205B23313233345D2068656C6C6F0D0A0D0A',X'68690D0A',NULL);
INSERT INTO "messages" VALUES(2,'Q0000000002','<m2@helpdesk.example.com>','1235','Billing','agent@helpdesk.example.com','[#1235] hi',66,'','2026-03-01T12:00:00.000Z',1,1,0,X'4D6573736167652D49443A203C6D324068656C706465736B2E6578616D706C652E636F6D3E0D0A5375626A6563743A205B23313233355D2068690D0A0D0A',NULL,'2026-03-01T12:30:00.000Z');
CREATE TABLE "quarantine" (
   "id" INTEGER PRIMARY KEY,
   "fingerprint" TEXT NOT NULL,
   "source" TEXT NOT NULL,
   "ref" TEXT,
   "reason" TEXT NOT NULL,
   "detail" TEXT,
   "received_at" TEXT NOT NULL,
   "size" INTEGER,
   "raw" BLOB,
   "truncated" INTEGER DEFAULT 0,
   "state" TEXT NOT NULL DEFAULT 'held',
   "seen" INTEGER DEFAULT 1,
   "retried_at" TEXT
);
CREATE TABLE "recipients" (
   "id" INTEGER PRIMARY KEY,
   "message" INTEGER NOT NULL REFERENCES "messages"("id"),
   "address" TEXT NOT NULL,
   "kind" TEXT NOT NULL,
   "token" TEXT,
   "delivery_state" TEXT NOT NULL,
   "attempts" INTEGER DEFAULT 0,
   "next_attempt_at" TEXT,
   "last_reply" TEXT,
   "updated_at" TEXT
);
INSERT INTO "recipients" VALUES(1,1,'dsn@example.net','to','aaaaaaaaaahbnqcqajwvlx2m4fpx46ry','queued',0,'2026-03-01T12:00:00.000Z',NULL,'2026-03-01T12:00:00.000Z');
INSERT INTO "recipients" VALUES(2,1,'bounce@example.net','to','aaaaaaaaaajpsutfhevo7mfxb6zwohwi','queued',0,'2026-03-01T12:00:00.000Z',NULL,'2026-03-01T12:00:00.000Z');
INSERT INTO "recipients" VALUES(3,1,'mdn@example.net','to','aaaaaaaaaangjbebuuo4ubd2i5tpoy7a','queued',0,'2026-03-01T12:00:00.000Z',NULL,'2026-03-01T12:00:00.000Z');
INSERT INTO "recipients" VALUES(4,1,'auto@example.net','to','aaaaaaaaaaqmraojpx3vocs5tllcg3ia','queued',0,'2026-03-01T12:00:00.000Z',NULL,'2026-03-01T12:00:00.000Z');
INSERT INTO "recipients" VALUES(5,1,'arf@example.net','to','aaaaaaaaaawssyeslc3hcjhylac5ksmq','queued',0,'2026-03-01T12:00:00.000Z',NULL,'2026-03-01T12:00:00.000Z');
INSERT INTO "recipients" VALUES(6,1,'gone@example.net','to','aaaaaaaaaa2h4f42glyq5di3q27hpaga','queued',0,'2026-03-01T12:00:00.000Z',NULL,'2026-03-01T12:00:00.000Z');
INSERT INTO "recipients" VALUES(7,1,'failed@example.net','to','aaaaaaaaaa4b5radmnv3lfefspnjf47a','queued',0,'2026-03-01T12:00:00.000Z',NULL,'2026-03-01T12:00:00.000Z');
INSERT INTO "recipients" VALUES(8,2,'deleted@example.net','to','aaaaaaaaabd5tgicqnurlw4sd4h3ccoq','failed',0,NULL,'deleted by admin','2026-03-01T12:30:00.000Z');
CREATE TABLE "reports" (
   "fingerprint" TEXT PRIMARY KEY,
   "kind" TEXT NOT NULL,
   "received_at" TEXT NOT NULL,
   "last_seen_at" TEXT NOT NULL,
   "seen" INTEGER DEFAULT 1,
   "source" TEXT NOT NULL,
   "ref" TEXT,
   "outcome" TEXT NOT NULL,
   "events" INTEGER DEFAULT 0,
   "quarantine" INTEGER
);
INSERT INTO "reports" VALUES('fp1','dsn','2026-03-01T12:02:00.000Z','2026-03-01T12:02:00.000Z',1,'maildir','','applied',1,NULL);
INSERT INTO "reports" VALUES('fp2','dsn','2026-03-01T12:03:00.000Z','2026-03-01T12:03:00.000Z',1,'imap','','applied',1,NULL);
INSERT INTO "reports" VALUES('fp3','mdn','2026-03-01T12:04:00.000Z','2026-03-01T12:04:00.000Z',1,'imap','','applied',1,NULL);
INSERT INTO "reports" VALUES('fp4','bounce','2026-03-01T12:05:00.000Z','2026-03-01T12:05:00.000Z',1,'lmtp','','applied',1,NULL);
INSERT INTO "reports" VALUES('fp5','autoreply','2026-03-01T12:06:00.000Z','2026-03-01T12:06:00.000Z',1,'pipe','','applied',1,NULL);
INSERT INTO "reports" VALUES('fp6','arf','2026-03-01T12:07:00.000Z','2026-03-01T12:07:00.000Z',1,'pipe','','applied',1,NULL);
CREATE TABLE status_settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE "token_rejections" (
   "reason" TEXT PRIMARY KEY,
   "count" INTEGER NOT NULL,
   "last_at" TEXT NOT NULL
);
CREATE TABLE webhook_cursors (
               url TEXT PRIMARY KEY,
               last_event INTEGER NOT NULL,      -- events.id of the last event delivered (or skipped)
               last_part INTEGER NOT NULL DEFAULT 1,  -- 0: the event went, its reply state change may not have
               attempts INTEGER NOT NULL DEFAULT 0,
               next_attempt_at TEXT,
               last_error TEXT,
               updated_at TEXT NOT NULL);
CREATE UNIQUE INDEX "idx_messages_queue_id"
    ON "messages" ("queue_id");
CREATE INDEX "idx_messages_ticket"
    ON "messages" ("ticket");
CREATE INDEX "idx_messages_message_id"
    ON "messages" ("message_id");
CREATE INDEX "idx_recipients_message"
    ON "recipients" ("message");
CREATE INDEX "idx_recipients_delivery_state_next_attempt_at"
    ON "recipients" ("delivery_state", "next_attempt_at");
CREATE UNIQUE INDEX "idx_recipients_token"
    ON "recipients" ("token");
CREATE INDEX "idx_recipients_address"
    ON "recipients" ("address");
CREATE INDEX "idx_events_recipient_id"
    ON "events" ("recipient", "id");
CREATE INDEX "idx_events_message_id"
    ON "events" ("message", "id");
CREATE UNIQUE INDEX "idx_events_natural_key"
    ON "events" ("natural_key");
CREATE INDEX "idx_reports_received_at"
    ON "reports" ("received_at");
CREATE UNIQUE INDEX "idx_quarantine_fingerprint"
    ON "quarantine" ("fingerprint");
CREATE INDEX "idx_quarantine_state_id"
    ON "quarantine" ("state", "id");
CREATE INDEX events_kind_at ON events (kind, at);
CREATE VIEW message_receipts AS
SELECT m.id AS message,
       m.ticket AS ticket,
       CASE WHEN m.ticket IS NULL THEN m.department
            ELSE (SELECT m2.department FROM messages m2 WHERE m2.ticket = m.ticket ORDER BY m2.id DESC LIMIT 1)
       END AS department
FROM messages m;
CREATE VIEW message_visibility AS
SELECT mr.message, mr.ticket, mr.department,
       COALESCE((SELECT d.receipts_enabled FROM departments d WHERE d.key = lower(trim(mr.department))),
                (SELECT CAST(s.value AS INTEGER) FROM status_settings s WHERE s.name = 'receipts_default'),
                1) AS receipts_enabled
FROM message_receipts mr;
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
LEFT JOIN events f ON f.id = x.failure_id;
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
) AS y;
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
        FROM messages m WHERE m.ticket IS NOT NULL GROUP BY m.ticket) AS t;
COMMIT;
PRAGMA user_version = 3;
