"""The event enums of maild.core.events: a report's kind names the source of the events it makes."""

from __future__ import annotations

import pytest

from maild.core.events import EventSource, ReportKind


@pytest.mark.parametrize("kind", [k for k in ReportKind if k is not ReportKind.UNKNOWN])
def test_every_report_kind_is_the_source_of_its_events(kind: ReportKind) -> None:
    assert kind.source is EventSource[kind.name]


def test_an_unknown_message_is_no_source() -> None:
    with pytest.raises(ValueError):
        _ = ReportKind.UNKNOWN.source


def test_the_sources_that_are_no_report_are_maild_s_own_acts_and_other_signals() -> None:
    reports = {k.value for k in ReportKind}
    assert {s for s in EventSource if s.value not in reports} == {
        EventSource.SMTP, EventSource.ADMIN, EventSource.REPLY, EventSource.PIXEL
    }
