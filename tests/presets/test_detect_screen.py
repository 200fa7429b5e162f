"""The `auto` fingerprint screen: it answers "no helpdesk" only where trying every preset's rules in order would."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from maild import config, rewrite
from maild.presets import match
from maild.presets.match import View
from maild.presets.model import Preset, Rule, Where
from tests.presets import helpdesk_mail as hm


def _every_rule(view: View, custom: dict[str, Preset]) -> str | None:
    """detect() without the screen: each preset of the auto order, its rules one by one."""
    order = [p for p in custom.values() if p.detect] + [
        match.BUILTIN[n] for n in match.builtin.AUTO_ORDER if n not in custom
    ]
    for preset in order:
        if match._any(preset.detect, view) is not None:
            return preset.name
    return None


def _view(raw: bytes) -> View:
    headers, body = rewrite.split_message(raw)
    return View(list(rewrite.fields(headers)), body)


PLAIN = (
    b"From: <agent@helpdesk.example.com>\r\nTo: <customer@example.net>\r\nMessage-Id: <1@helpdesk.example.com>\r\n"
    b"Subject: [#1234] benchmark\r\n\r\nhello\r\n"
)
MESSAGES = [f().raw for f in hm.ALL] + [
    PLAIN,
    b"Subject: Re: [ABC-12] a key after Re:\r\n\r\nx\r\n",
    b"Subject: x\r\nMessage-ID: <GLPI_abc@glpi.example>\r\n\r\nx\r\n",
    b"X-Mailer: Thunderbird\r\nSubject: hi\r\n\r\nx\r\n",  # a fingerprint field of another value: screened in, no match
    b"x-rt-ticket: example.com #7\r\n\r\nx\r\n",  # field names match whatever their case
    b"\r\nno header at all\r\n",
]


@pytest.mark.parametrize("raw", MESSAGES)
def test_the_screen_never_changes_what_auto_detects(raw):
    view = _view(raw)
    assert match.detect(view, {}) == _every_rule(view, {})


def test_mail_of_no_helpdesk_is_answered_by_the_screen_alone():
    screen = match._screen_for({})
    assert screen.first_candidate(_view(PLAIN)) is None
    for f in hm.ALL:  # every built-in helpdesk's mail is let through to the rules, from its own preset at the latest
        if f.__name__ != "freshdesk":  # freshdesk has no fingerprint: auto never picks it
            first = screen.first_candidate(_view(f().raw))
            assert first is not None and first <= [p.name for p in screen.order].index(f().product), f.__name__


def test_a_body_rule_turns_the_screen_off_and_is_still_found():
    custom = {"ours": Preset(name="ours", detect=(Rule(Where.BODY, re.compile(r"Sent by OurDesk")),), builtin=False)}
    raw = b"Subject: hello\r\n\r\nhi, Sent by OurDesk\r\n"
    assert match._screen_for(custom).first_candidate(_view(PLAIN)) == 0
    assert match.detect(_view(raw), custom) == "ours" == _every_rule(_view(raw), custom)


def test_operator_presets_from_the_configuration_are_screened_and_come_first():
    table = {"presets": {"ourdesk": {"detect": [{"header": "X-OurDesk"}], "ticket": [{"subject": r"\[OD-(\d+)\]"}]}}}
    tracking = config.parse({"tracking": table}, Path("/tmp/maild.toml")).tracking
    assert match.detect(_view(b"X-OurDesk: 1\r\nX-RT-Ticket: x\r\n\r\nx\r\n"), tracking.presets) == "ourdesk"
    assert match.detect(_view(PLAIN), tracking.presets) is None


def test_a_text_rule_that_matches_the_empty_text_is_a_candidate_on_mail_without_that_field():
    # the screen answers an empty Subject or Message-ID from the search it made when it was built
    custom = {
        "nosubject": Preset(name="nosubject", detect=(Rule(Where.SUBJECT, re.compile(r"^$")),), builtin=False),
        "noid": Preset(name="noid", detect=(Rule(Where.MESSAGE_ID, re.compile(r"^(?!<)")),), builtin=False),
    }
    for raw in (b"To: <a@b.example>\r\n\r\nx\r\n", b"Subject: hi\r\n\r\nx\r\n", b"Subject: hi\r\nMessage-ID: <1@b>\r\n\r\nx\r\n"):
        view = _view(raw)
        assert match.detect(view, custom) == _every_rule(view, custom)
    assert match.detect(_view(b"To: <a@b.example>\r\n\r\nx\r\n"), custom) == "nosubject"
    assert match.detect(_view(b"Subject: hi\r\n\r\nx\r\n"), custom) == "noid"
    assert match.detect(_view(b"Subject: hi\r\nMessage-ID: <1@b>\r\n\r\nx\r\n"), custom) is None
