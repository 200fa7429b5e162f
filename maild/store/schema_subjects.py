"""Schema migration 11: the subject index made again without FTS5's per-row size table (`columnsize=0`).

The index of migration 8 kept, for every indexed subject, its length in
tokens in `message_subjects_docsize`: one more row written per stored message
by every catch-up batch (maild.store.subjects), read only by ranking
functions (bm25, xColumnSize), which no search of maild uses: the panel lists
matches newest first. `columnsize=0` drops that table; MATCH, the `delete`
command of the triggers and the `rowid` ranges read the same index.

The table is made again and filled with exactly the messages the old one held
(those up to `subject_index_state.upto`), so the catch-up goes on from where it
was and the triggers of migration 8, which name the table, keep working.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils

CREATE = (
    "CREATE VIRTUAL TABLE message_subjects USING fts5("
    "subject, content='messages', content_rowid='id', tokenize='trigram case_sensitive 0', columnsize=0)"
)


def migrate(db: sqlite_utils.Database) -> None:
    db.execute("DROP TABLE message_subjects")
    db.execute(CREATE)
    db.execute(
        "INSERT INTO message_subjects (rowid, subject) SELECT id, subject FROM messages"
        " WHERE subject IS NOT NULL AND id <= (SELECT upto FROM subject_index_state)"
    )
