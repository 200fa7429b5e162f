"""Schema for the web panel's reads and its record of department switches (migration 8).

* `message_subjects`: a trigram full-text index of `messages.subject` (external content, kept by
  triggers), so a subject search reads an index instead of every stored message;
* a case-insensitive index of recipient addresses, so an address search (exact or by its
  beginning) and `maild events --recipient` read an index;
* a case-insensitive index of message departments, newest first, for a department search;
* `department_switches`: who switched a department's read receipts, when, on or off, and from where.
"""

from __future__ import annotations

import sqlite_utils


def migrate(db: sqlite_utils.Database) -> None:
    db.execute(
        "CREATE VIRTUAL TABLE message_subjects USING fts5("
        "subject, content='messages', content_rowid='id', tokenize='trigram case_sensitive 0')"
    )
    # External content: the index holds only trigrams; these triggers keep it equal to messages.subject.
    db.execute(
        """CREATE TRIGGER messages_subject_insert AFTER INSERT ON messages WHEN new.subject IS NOT NULL BEGIN
               INSERT INTO message_subjects (rowid, subject) VALUES (new.id, new.subject);
           END"""
    )
    db.execute(
        """CREATE TRIGGER messages_subject_delete AFTER DELETE ON messages WHEN old.subject IS NOT NULL BEGIN
               INSERT INTO message_subjects (message_subjects, rowid, subject) VALUES ('delete', old.id, old.subject);
           END"""
    )
    db.execute(
        """CREATE TRIGGER messages_subject_update AFTER UPDATE OF subject ON messages BEGIN
               INSERT INTO message_subjects (message_subjects, rowid, subject)
                   SELECT 'delete', old.id, old.subject WHERE old.subject IS NOT NULL;
               INSERT INTO message_subjects (rowid, subject) SELECT new.id, new.subject WHERE new.subject IS NOT NULL;
           END"""
    )
    db.execute("INSERT INTO message_subjects (message_subjects) VALUES ('rebuild')")
    db.execute("CREATE INDEX recipients_address_nocase ON recipients (address COLLATE NOCASE)")
    db.execute("CREATE INDEX messages_department_nocase ON messages (department COLLATE NOCASE)")
    db.execute(
        """CREATE TABLE department_switches (
               id INTEGER PRIMARY KEY,
               key TEXT NOT NULL,               -- the department name casefolded, as departments.key
               name TEXT NOT NULL,              -- as shown
               receipts_enabled INTEGER NOT NULL,  -- what it was switched to
               by TEXT,                         -- the panel user or API token holder; NULL: the CLI (the operator)
               via TEXT NOT NULL,               -- web, api, cli
               at TEXT NOT NULL)"""
    )
    db.execute("CREATE INDEX department_switches_key ON department_switches (key, id)")
