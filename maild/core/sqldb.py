"""The shape of the database handle every store job takes: an sqlite3 connection and `execute()`, nothing more.

The daemon hands jobs a ``sqlite_utils.Database`` (its migrations use that
library's table helpers); a command hands them ``maild.store.db.CommandDb``,
a plain sqlite3 wrapper, so that ``maild ingest``, ``status``, ``events`` and
``queue`` do not pay for importing sqlite_utils (click, dateutil, pluggy and
its entry-point scan) on every start. Both fit this protocol; a job that
needs more than it (only the schema migrations do) says so in its type.
"""

from __future__ import annotations

from collections.abc import Sequence

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)
if TYPE_CHECKING:
    from typing import Any, Protocol
else:
    from maild.core.hints import Protocol

if TYPE_CHECKING:
    import sqlite3


class Db(Protocol):
    """An open database: its sqlite3 connection and `execute(sql, parameters)` returning the cursor."""

    conn: sqlite3.Connection

    def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] | None = None) -> sqlite3.Cursor: ...
