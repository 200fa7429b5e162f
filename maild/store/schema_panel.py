"""Schema for the web panel's reads and its record of department switches (migration 8).

* `message_subjects`: a trigram full-text index of `messages.subject` (external content), so a
  subject search reads an index instead of every stored message; `subject_index_state.upto` says
  how far it reaches (newer messages are indexed in batches by maild.store.subjects);
* a case-insensitive index of recipient addresses, so an address search (exact or by its
  beginning) and `maild events --recipient` read an index;
* a case-insensitive index of message departments, newest first, for a department search;
* `department_switches`: who switched a department's read receipts, when, on or off, and from where.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils


def migrate(db: sqlite_utils.Database) -> None:
    db.execute(
        "CREATE VIRTUAL TABLE message_subjects USING fts5("
        "subject, content='messages', content_rowid='id', tokenize='trigram case_sensitive 0')"
    )
    # Messages up to `upto` are in the index; newer ones are added in batches (maild.store.subjects), off the
    # intake's path: an index entry per stored message would cost every SMTP transaction more pages and CPU.
    db.execute("CREATE TABLE subject_index_state (id INTEGER PRIMARY KEY CHECK (id = 1), upto INTEGER NOT NULL)")
    # External content: the index holds only trigrams; an indexed subject that changes or goes is taken out of it.
    db.execute(
        """CREATE TRIGGER messages_subject_delete AFTER DELETE ON messages
           WHEN old.subject IS NOT NULL AND old.id <= (SELECT upto FROM subject_index_state) BEGIN
               INSERT INTO message_subjects (message_subjects, rowid, subject) VALUES ('delete', old.id, old.subject);
           END"""
    )
    db.execute(
        """CREATE TRIGGER messages_subject_update AFTER UPDATE OF subject ON messages
           WHEN old.id <= (SELECT upto FROM subject_index_state) BEGIN
               INSERT INTO message_subjects (message_subjects, rowid, subject)
                   SELECT 'delete', old.id, old.subject WHERE old.subject IS NOT NULL;
               INSERT INTO message_subjects (rowid, subject) SELECT new.id, new.subject WHERE new.subject IS NOT NULL;
           END"""
    )
    db.execute(
        "INSERT INTO message_subjects (rowid, subject) SELECT id, subject FROM messages WHERE subject IS NOT NULL"
    )
    db.execute("INSERT INTO subject_index_state (id, upto) SELECT 1, coalesce(max(id), 0) FROM messages")
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
