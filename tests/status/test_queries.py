"""maild.queries reads events from plain rows: its column list must stay the status record's fields, in order."""

from __future__ import annotations

from dataclasses import fields

from maild.core.record import StatusRecord
from maild.queries import EVENT_FIELDS


def test_the_event_columns_end_with_the_status_record_in_its_field_order() -> None:
    record = tuple(f.name for f in fields(StatusRecord))
    assert EVENT_FIELDS[-len(record):] == record  # _event builds StatusRecord(*those columns) positionally
