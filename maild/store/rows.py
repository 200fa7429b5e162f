"""Rows by column name: reads that name what they take (row["attempts"]) instead of counting (row[11])."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from enum import Enum
from typing import TypeVar, cast

import sqlite_utils

from maild.errors import StoreError

Row = sqlite3.Row


def named_rows(db: sqlite_utils.Database, sql: str, params: Iterable[object] = ()) -> list[Row]:
    """Every row of one SELECT, each readable by column name (or alias)."""
    cursor = db.conn.cursor()
    cursor.row_factory = sqlite3.Row
    return cursor.execute(sql, tuple(params)).fetchall()


def named_row(db: sqlite_utils.Database, sql: str, params: Iterable[object] = ()) -> Row | None:
    """The first row of one SELECT by column name, or None."""
    cursor = db.conn.cursor()
    cursor.row_factory = sqlite3.Row
    row: Row | None = cursor.execute(sql, tuple(params)).fetchone()
    return row


E = TypeVar("E", bound=Enum)


def enum_column(row: Row, column: str, enum: type[E]) -> E:
    """A column holding one of an enum's values; any other value is a clear StoreError, never a traceback."""
    value = row[column]
    member = enum._value2member_map_.get(value)  # a dict lookup: this runs for every event read
    if member is None:
        raise StoreError(
            f"the database holds {value!r} in {column}, which this maild does not know (written by a newer maild?)"
        )
    return cast(E, member)
