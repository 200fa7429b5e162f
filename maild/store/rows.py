"""Rows by column name: reads that name what they take (row["attempts"]) instead of counting (row[11])."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from enum import Enum

from maild.errors import StoreError
from maild.core.sqldb import Db

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)
if TYPE_CHECKING:
    from typing import Generic, NoReturn, TypeVar
else:
    from maild.core.hints import Generic, TypeVar

Row = sqlite3.Row


def named_rows(db: Db, sql: str, params: Iterable[object] = ()) -> list[Row]:
    """Every row of one SELECT, each readable by column name (or alias)."""
    cursor = db.conn.cursor()
    cursor.row_factory = sqlite3.Row
    return cursor.execute(sql, tuple(params)).fetchall()


def named_row(db: Db, sql: str, params: Iterable[object] = ()) -> Row | None:
    """The first row of one SELECT by column name, or None."""
    cursor = db.conn.cursor()
    cursor.row_factory = sqlite3.Row
    row: Row | None = cursor.execute(sql, tuple(params)).fetchone()
    return row


E = TypeVar("E", bound=Enum)


class EnumColumn(Generic[E]):
    """A column holding one of an enum's values, read from plain rows: `col.get(value) or col.unknown(value)`.

    The lookup is one dict get (it runs for every event read); any other value is a clear StoreError, never a
    traceback (a database written by a newer maild).
    """

    def __init__(self, enum: type[E], column: str) -> None:
        members: dict[object, E] = {m.value: m for m in enum}
        self.get = members.get
        self.column = column

    def unknown(self, value: object) -> NoReturn:
        raise StoreError(
            f"the database holds {value!r} in {self.column}, which this maild does not know (written by a newer maild?)"
        )
