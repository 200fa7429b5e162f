"""Presets: each helpdesk's reply is tracked under the number its agents see, with its department; notices are not."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from maild import config, rewrite
from maild.errors import ConfigError
from maild.presets import match
from maild.presets.model import Preset, Rule, Where
from maild.intake.incoming import read_incoming
from tests.presets import helpdesk_mail as hm


def tracking(**tracking: Any) -> config.TrackingSettings:
    return config.parse({"tracking": tracking}, Path("/tmp/maild.toml")).tracking


@pytest.mark.parametrize("make", hm.ALL, ids=lambda f: f.__name__)
def test_auto_recognises_each_helpdesk(make):
    reply = make()
    c = read_incoming(reply.raw, "bounce@helpdesk.example", ["alice@example.net"], tracking())
    assert c.preset == reply.product
    assert c.tracked is reply.tracked
    if reply.tracked:
        assert c.ticket == reply.ticket
        assert c.department == reply.department
        assert {k: c.ids.get(k) for k in reply.ids} == reply.ids
    else:
        assert c.skipped and c.headers + c.body == reply.raw  # relayed untouched


def test_rt_queue_subject_tag_names_the_department():
    reply = hm.rt(ticket=55, queue_tag="Billing")
    c = read_incoming(reply.raw, "", ["alice@example.net"], tracking())
    assert (c.ticket, c.department) == ("55", "Billing")


def test_glpi_entity_tag_names_the_department_and_zero_padding_goes():
    reply = hm.glpi(ticket=9, entity_tag="ACME-IT")
    c = read_incoming(reply.raw, "", ["alice@example.net"], tracking())
    assert (c.ticket, c.department, c.tracked) == ("9", "ACME-IT", True)


def test_glpi_auto_submitted_replies_are_still_tracked():
    c = read_incoming(hm.glpi().raw, "", ["alice@example.net"], tracking())
    assert c.tracked and c.preset == "glpi"


def test_sender_departments_map_addresses_then_domains():
    t = tracking(sender_departments={"sales@zammad.example.com": "Sales", "hesk.example.com": "Help"})
    assert read_incoming(hm.zammad().raw, "", ["a@example.net"], t).department == "Sales"
    assert read_incoming(hm.hesk().raw, "", ["a@example.net"], t).department == "Help"
    assert read_incoming(hm.znuny().raw, "", ["a@example.net"], t).department == "support@znuny.example.com"


def test_from_address_is_lowercased_addr_spec():
    raw = hm.hesk().raw.replace(b"noreply@hesk.example.com", b"NoReply@HESK.example.com")
    assert read_incoming(raw, "", ["a@example.net"], tracking()).department == "noreply@hesk.example.com"


def test_explicit_department_header_still_wins_under_generic():
    raw = b"From: a@x.example\r\nTo: b@example.net\r\nSubject: [#5] x\r\nX-Department: Billing\r\n\r\nbody\r\n"
    c = read_incoming(raw, "", ["b@example.net"], tracking())
    assert (c.preset, c.ticket, c.department) == ("generic", "5", "Billing")


def test_malformed_rt_ticket_is_relayed_untracked_with_a_reason():
    raw = hm.rt().raw.replace(b"X-RT-Ticket: rt.example.com #1234", b"X-RT-Ticket: rt.example.com #12x4")
    raw = raw.replace(b"[rt.example.com #1234] ", b"")
    c = read_incoming(raw, "", ["alice@example.net"], tracking())
    assert c.preset == "rt" and c.ticket is None and not c.tracked
    assert c.malformed
    assert c.headers + c.body == raw


def test_explicit_preset_and_alias():
    c = read_incoming(hm.znuny().raw, "", ["a@example.net"], tracking(preset="otrs"))
    assert (c.preset, c.ticket) == ("znuny", "2026120110000017")
    c = read_incoming(hm.zammad().raw, "", ["a@example.net"], tracking(preset="generic"))
    assert (c.preset, c.tracked) == ("generic", False)


def test_operator_preset_is_data_and_detected_before_builtins():
    mine = {
        "detect": [{"header": "X-Mailer", "pattern": "^Zammad"}],
        "ticket": [{"subject": r"\[Case:(\d+)\]"}],
        "department": [{"header": "Organization"}],
    }
    raw = hm.zammad().raw.replace(b"[Ticket#31001]", b"[Case:88]")
    c = read_incoming(raw, "", ["a@example.net"], tracking(presets={"ourzammad": mine}))
    assert (c.preset, c.ticket, c.department) == ("ourzammad", "88", "Example")


@pytest.mark.parametrize(
    ("tracking_table", "key", "words"),
    [
        ({"preset": "nosuchdesk"}, "tracking.preset", "unknown preset 'nosuchdesk'"),
        ({"presets": {"x": {"ticket": [{"subject": "[unclosed"}]}}}, "tracking.presets", "x.ticket[0].subject"),
        ({"presets": {"x": {"ticket": [{"subject": "no group"}]}}}, "tracking.presets", "capturing group"),
        ({"presets": {"x": {"ticket": [{"subject": r"(\d+)", "value": "{id}"}]}}}, "tracking.presets", "{id}"),
        ({"presets": {"x": {"detect": [{"header": "X-A"}]}}}, "tracking.presets", "x.ticket"),
        ({"presets": {"x": {"ticket": [{"subject": r"(\d+)", "colour": 1}]}}}, "tracking.presets", "colour"),
    ],
)
def test_bad_presets_name_the_key(tracking_table, key, words):
    with pytest.raises(ConfigError) as err:
        config.parse({"tracking": tracking_table}, Path("/tmp/maild.toml"))
    assert key in str(err.value) and words in str(err.value)


def test_every_builtin_name_in_the_issue_is_known():
    names = ("generic zammad freescout osticket rt znuny otrs hesk glpi itop chatwoot uvdesk peppermint helpy "
             "faveo django-helpdesk freshdesk zoho-desk trudesk auto").split()
    for name in names:
        tracking(preset=name)


def test_check_config_says_which_preset_matches_a_message(tmp_path, capsys):
    import json

    from maild.cli import main

    eml = tmp_path / "reply.eml"
    eml.write_bytes(hm.glpi(ticket=42, entity_tag="ACME").raw)
    cfg = tmp_path / "maild.toml"
    cfg.write_text("")
    assert main(["check-config", "--config", str(cfg), "--message", str(eml), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["preset"], out["ticket"], out["department"], out["tracked"]) == ("glpi", "42", "ACME", True)
    assert main(["check-config", "--config", str(cfg), "--message", str(tmp_path / "missing.eml")]) == 1
    assert "cannot read" in capsys.readouterr().err



def _render_as_written_before(rule: Rule, m: re.Match[str]) -> str:
    """_render's earlier form, every group taken by hand: the reference the shorter one is held to."""
    groups = {k: v or "" for k, v in m.groupdict().items()}
    value = rule.value.format(m.group(0), *(g or "" for g in m.groups()), **groups).strip()
    if rule.strip_zeros and value.isdigit():
        value = value.lstrip("0") or "0"
    return value


OPTIONAL_GROUPS = re.compile(r"\[(?:(A)|(B)|(?P<kind>C)?)-(?P<n>\d*)\]")


@pytest.mark.parametrize("subject", ["[A-0042] x", "[B-7] x", "[C-] x", "[-007] x", "[-] x"])
@pytest.mark.parametrize("template", ["{1}{2}{3}{4}", "{kind}{n}", " {0} ", "{2}"])
@pytest.mark.parametrize("strip_zeros", [False, True])
def test_a_template_renders_a_group_that_took_no_part_as_empty_text(subject, template, strip_zeros):
    rule = Rule(Where.SUBJECT, OPTIONAL_GROUPS, value=template, strip_zeros=strip_zeros)
    m = OPTIONAL_GROUPS.search(subject)
    assert m is not None
    assert match._render(rule, m) == _render_as_written_before(rule, m)
    view = match.View(list(rewrite.fields(f"Subject: {subject}\r\n".encode())), b"")
    found = match._first((rule,), view)
    assert found is not None
    assert found[1] == {k: v for k, v in m.groupdict().items() if v}  # the ids: named groups that found text


def test_the_ticket_of_an_alternative_is_its_own_digits():
    rule = Rule(Where.SUBJECT, OPTIONAL_GROUPS, value="{1}{2}{4}", strip_zeros=False)
    view = match.View(list(rewrite.fields(b"Subject: [B-7] x\r\n")), b"")
    assert match.apply(Preset(name="p", ticket=(rule,), builtin=False), view, fingerprint=False).ticket == "B7"
