"""The typed shape of a helpdesk preset: rules (where to look, a pattern, what to make of it) grouped by purpose."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Where(StrEnum):
    """The part of a message a rule reads."""

    HEADER = "header"  # every field of that name, decoded
    SUBJECT = "subject"
    MESSAGE_ID = "message_id"
    BODY = "body"  # the body as text (quoted-printable soft breaks undone), first megabyte only


@dataclass(frozen=True, slots=True)
class Rule:
    """One pattern on one part; `value` is a template over its groups ("{1}", "{slug}-{id}")."""

    where: Where
    pattern: re.Pattern[str]
    header: str = ""  # with Where.HEADER
    value: str = "{1}"
    strip_zeros: bool = False  # "0000123" -> "123" (GLPI pads its ids)
    decode: str = ""  # a named decoder of packed ids (see match.DECODERS), e.g. "osticket-tag"


@dataclass(frozen=True, slots=True)
class Preset:
    name: str
    detect: tuple[Rule, ...] = ()  # any match: this product wrote the message (used by "auto")
    ticket: tuple[Rule, ...] = ()  # first match wins; its named groups are kept as ids too
    ids: tuple[Rule, ...] = ()  # helpdesk-internal ids kept with the reply (named groups)
    department: tuple[Rule, ...] = ()  # first match names the department
    department_ignore: tuple[str, ...] = ()  # values that are no department (a product's default tag)
    department_unless_id: str = ""  # a department equal to this id is no department (RT's rtname)
    skip: tuple[Rule, ...] = ()  # any match: the helpdesk's own notice, relayed untracked
    builtin: bool = True


@dataclass(frozen=True, slots=True)
class Match:
    """What a preset found in one message."""

    preset: str
    ticket: str | None
    department: str | None  # None: the caller falls back to the sender map, then the From address
    ids: Mapping[str, str] = field(default_factory=dict)
    skipped: str = ""  # non-empty: why the message is not tracked (a system notice)
    malformed: str = ""  # non-empty: it looked like this product's mail but its ticket id did not parse
