"""maild.queries reads events from plain rows: its column list must stay the status record's fields, in order."""

from __future__ import annotations

from dataclasses import fields

from maild.core.record import StatusRecord
from maild.queries import EVENT_FIELDS


def test_the_event_columns_end_with_the_status_record_in_its_field_order() -> None:
    record = tuple(f.name for f in fields(StatusRecord))
    assert EVENT_FIELDS[-len(record):] == record  # _event builds StatusRecord(*those columns) positionally


def test_timelines_are_the_core_events_with_who_reported_them_even_from_before_migration_5(tmp_path) -> None:
    from maild.core.events import EventKind, EventSource, Via
    from maild.queries import thread_timelines
    from tests.support.builders import Builder
    from tests.support.status_cases import BOUNCE

    b = Builder(tmp_path / "maild.db")
    r = b.reply("5", [("a@example.net", "to")], message_id="<t@x>")
    b.event(r, "a@example.net", "accepted", 1)
    b.event(r, "a@example.net", "bounced", 5, BOUNCE)
    b.event(r, "a@example.net", "displayed", 9)
    # an event migrated from schema 4: its Reporting-UA only in the detail the old ingest wrote
    b.db.execute("UPDATE events SET reporting_ua = NULL, detail = ? WHERE kind = 'displayed'",
                 ('{"report": {"reporting_ua": "host; Thunderbird 128"}}',))
    b.db.conn.commit()
    (timeline,) = thread_timelines(b.db, "5").values()
    assert [(e.kind, e.source, e.via) for e in timeline] == [
        (EventKind.QUEUED, EventSource.SMTP, None), (EventKind.ACCEPTED, EventSource.SMTP, None),
        (EventKind.BOUNCED, EventSource.DSN, Via.IMAP), (EventKind.DISPLAYED, EventSource.MDN, Via.IMAP)]
    assert timeline[2].record == BOUNCE
    assert timeline[3].record.reporting_ua == "host; Thunderbird 128"
    b.receipts("Billing", False)
    (hidden,) = thread_timelines(b.db, "5").values()
    assert [e.kind for e in hidden] == [EventKind.QUEUED, EventKind.ACCEPTED, EventKind.BOUNCED]  # read info hidden
    b.close()


def test_an_event_carries_its_detail_only_when_it_is_a_read_signal(tmp_path) -> None:
    # The events read writes the read kinds out one by one (no IN list): every read kind must keep its detail.
    from maild.core.events import READ_KINDS, EventKind
    from maild.queries import list_events
    from tests.support.builders import Builder

    b = Builder(tmp_path / "maild.db")
    r = b.reply("5", [("a@example.net", "to")], message_id="<t@x>")
    kinds = sorted(READ_KINDS) + [EventKind.ACCEPTED, EventKind.BOUNCED, EventKind.DELIVERED]
    for at, kind in enumerate(kinds, start=1):
        b.event(r, "a@example.net", str(kind), at)
    b.db.execute("UPDATE events SET detail = json_object('kind', kind)")
    b.db.conn.commit()
    details = {e.kind: e.detail for e in list_events(b.db).events}
    assert {k for k, d in details.items() if d is not None} == set(READ_KINDS)
    assert all(details[k] == {"kind": str(k)} for k in READ_KINDS)
    b.close()


def test_the_one_statement_switches_answer_as_visibility_and_the_machine_opens_setting(tmp_path) -> None:
    # load_thread_page reads the receipts default, the department's switch and [pixel] count_machine_opens in one
    # statement (queries._switches): it must answer as the readers every other query uses, in every combination.
    from maild.queries import Visibility, _switches, count_machine_opens
    from maild.store import settings
    from tests.support.builders import Builder

    b = Builder(tmp_path / "maild.db")
    seen = set()
    for default in (None, True, False):
        if default is not None:
            b.write(lambda db, d=default: settings.set_receipts_default(db, d))
        for machine in (None, "1", "0"):
            if machine is not None:
                b.db.execute("INSERT INTO status_settings (name, value) VALUES ('pixel_count_machine', ?)"
                             " ON CONFLICT (name) DO UPDATE SET value = excluded.value", (machine,))
                b.db.conn.commit()
            for department in (None, "", "Billing", "  billing ", "Other", "Ünïcode"):
                for switch in (None, True, False):
                    if switch is not None and department and department.strip():
                        b.receipts(department, switch)
                    expected = (Visibility(b.db)(department), count_machine_opens(b.db))
                    assert _switches(b.db, department) == expected, (default, machine, department, switch)
                    seen.add(expected)
    assert seen == {(True, True), (True, False), (False, True), (False, False)}
    b.close()


def test_a_handle_that_holds_the_switches_sees_every_change_another_connection_makes(tmp_path) -> None:
    # load_thread_page and list_events hold what they read of the settings per handle and settings generation:
    # a change written on another connection (as `maild departments` or an admin's SQL would) must show at once.
    import sqlite3

    from maild.queries import _switches, list_events, load_thread
    from maild.store.db import connect
    from tests.support.builders import Builder

    b = Builder(tmp_path / "maild.db")
    r = b.reply("5", [("a@example.net", "to")], message_id="<t@x>", department="Billing")
    b.event(r, "a@example.net", "accepted", 1)
    b.event(r, "a@example.net", "displayed", 9)
    b.db.conn.commit()
    reader = connect(tmp_path / "maild.db", readonly=True)
    other = sqlite3.connect(tmp_path / "maild.db", isolation_level=None)
    changes = [
        "INSERT INTO departments (key, name, receipts_enabled, updated_at) VALUES ('billing', 'Billing', 0, 'x')",
        "INSERT INTO status_settings (name, value) VALUES ('pixel_count_machine', '1')",
        "UPDATE departments SET receipts_enabled = 1",
        "INSERT INTO status_settings (name, value) VALUES ('receipts_default', '0')"
        " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        "DELETE FROM departments",
        "UPDATE status_settings SET value = '1'",
    ]
    seen = set()
    for change in [None, *changes]:
        if change is not None:
            other.execute(change)
        for _ in range(2):  # the second read answers from what the first held
            info = load_thread(reader, "5")
            assert info is not None
            expected = _switches(reader, "Billing")
            assert info.receipts_enabled == expected[0], change
            kinds = [str(e.kind) for e in list_events(reader).events]
            assert ("displayed" in kinds) == expected[0], change
            seen.add(expected)
    assert {shown for shown, _ in seen} == {True, False}
    other.close()
    reader.conn.close()
    b.close()


def test_an_event_kind_this_maild_does_not_know_is_a_clear_store_error_in_every_read(tmp_path) -> None:
    # A database written by a newer maild: the kind is named in a StoreError, never a KeyError's traceback.
    import pytest

    from maild.errors import StoreError
    from maild.queries import list_events, load_thread
    from tests.support.builders import Builder

    b = Builder(tmp_path / "maild.db")
    r = b.reply("5", [("a@example.net", "to")], message_id="<t@x>")
    b.event(r, "a@example.net", "accepted", 1)
    b.db.execute("UPDATE events SET kind = 'teleported' WHERE kind = 'accepted'")
    b.db.conn.commit()
    with pytest.raises(StoreError, match="teleported"):
        load_thread(b.db, "5")
    with pytest.raises(StoreError, match="teleported"):
        list_events(b.db)
    b.close()
