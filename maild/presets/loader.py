"""Build `Preset`s from their TOML shape (built-in tables and `[tracking.presets.NAME]` alike); errors name the key.

A rule is a table with exactly one of `subject`, `message_id`, `body` (the
pattern) or `header` (a field name, with its `pattern`), plus an optional
`value` template over the groups and `strip_zeros`.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import Any

from maild.presets.model import Preset, Rule, Where

_RULE_LISTS = ("detect", "ticket", "ids", "department", "skip")
_KEYS = {*_RULE_LISTS, "department_ignore", "department_unless_id", "alias_of"}
_RULE_KEYS = {"header", "pattern", "subject", "message_id", "body", "value", "strip_zeros", "decode"}
DECODER_NAMES = ("osticket-tag",)  # implemented in match.DECODERS
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")


def _compile(text: Any, where: str) -> re.Pattern[str]:
    if not isinstance(text, str) or not text:
        raise ValueError(f"{where}: expected a regular expression")
    try:
        return re.compile(text)
    except re.error as exc:
        raise ValueError(f"{where}: expected a regular expression ({exc})") from None


def _template_fields(template: str) -> list[str]:
    return [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]


def rule(table: Any, where: str, *, needs_value: bool) -> Rule:
    if not isinstance(table, Mapping):
        raise ValueError(f"{where}: expected a table such as {{ subject = '\\[#(\\d+)\\]' }}")
    unknown = set(table) - _RULE_KEYS
    if unknown:
        raise ValueError(f"{where}.{min(unknown)}: unknown key (known: {', '.join(sorted(_RULE_KEYS))})")
    parts = [k for k in ("header", "subject", "message_id", "body") if k in table]
    if len(parts) != 1:
        raise ValueError(f"{where}: expected exactly one of header, subject, message_id, body")
    part = parts[0]
    if part == "header":
        header = table["header"]
        if not isinstance(header, str) or not re.fullmatch(r"[!-9;-~]+", header):
            raise ValueError(f"{where}.header: expected a header field name")
        pattern = _compile(table.get("pattern", "(.+)"), f"{where}.pattern")
    else:
        header = ""
        if "pattern" in table:
            raise ValueError(f"{where}.pattern: only with header (the pattern of {part} is its own value)")
        pattern = _compile(table[part], f"{where}.{part}")
    value = table.get("value", "{1}" if pattern.groups else "{0}")
    if not isinstance(value, str):
        raise ValueError(f"{where}.value: expected a template string such as \"{{1}}\"")
    try:
        fields = _template_fields(value)
    except ValueError as exc:
        raise ValueError(f"{where}.value: expected a template string ({exc})") from None
    for f in fields:
        if f.isdigit():
            if int(f) > pattern.groups:
                raise ValueError(f"{where}.value: {{{f}}} but the pattern has {pattern.groups} group(s)")
        elif f not in pattern.groupindex:
            raise ValueError(f"{where}.value: {{{f}}} names no group of the pattern")
    if needs_value and (not fields or (not pattern.groups and "value" not in table)):
        raise ValueError(f"{where}: expected a pattern with a capturing group (or a value template)")
    strip = table.get("strip_zeros", False)
    if not isinstance(strip, bool):
        raise ValueError(f"{where}.strip_zeros: expected true or false")
    decode = table.get("decode", "")
    if decode and decode not in DECODER_NAMES:
        raise ValueError(f"{where}.decode: expected one of {', '.join(DECODER_NAMES)}")
    return Rule(Where(part), pattern, header, value, strip, decode)


def preset(name: str, table: Any, *, builtin: bool = False) -> Preset:
    """One preset; `name` is its key, shown in errors as `NAME.key[i]...`."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"{name}: expected a preset name of lowercase letters, digits, - and _")
    if not isinstance(table, Mapping):
        raise ValueError(f"{name}: expected a table")
    unknown = set(table) - _KEYS
    if unknown:
        raise ValueError(f"{name}.{min(unknown)}: unknown key (known: {', '.join(sorted(_KEYS))})")
    lists: dict[str, tuple[Rule, ...]] = {}
    for key in _RULE_LISTS:
        raw = table.get(key, [])
        if not isinstance(raw, list):
            raise ValueError(f"{name}.{key}: expected an array of tables")
        lists[key] = tuple(
            rule(t, f"{name}.{key}[{i}]", needs_value=key in ("ticket", "department")) for i, t in enumerate(raw)
        )
    ignore = table.get("department_ignore", [])
    if not isinstance(ignore, list) or not all(isinstance(x, str) for x in ignore):
        raise ValueError(f"{name}.department_ignore: expected a list of strings")
    unless = table.get("department_unless_id", "")
    if not isinstance(unless, str):
        raise ValueError(f"{name}.department_unless_id: expected the name of an id")
    if not builtin and not lists["ticket"]:
        raise ValueError(f"{name}.ticket: expected at least one rule finding the ticket")
    return Preset(
        name=name,
        detect=lists["detect"],
        ticket=lists["ticket"],
        ids=lists["ids"],
        department=lists["department"],
        department_ignore=tuple(x.casefold() for x in ignore),
        department_unless_id=unless,
        skip=lists["skip"],
        builtin=builtin,
    )


def presets(tables: Any) -> dict[str, Preset]:
    """The operator's `[tracking.presets]` table: NAME = { detect = [...], ticket = [...], ... }."""
    if not isinstance(tables, Mapping):
        raise ValueError("expected a table of presets, such as [tracking.presets.mydesk]")
    return {str(name): preset(str(name), t) for name, t in tables.items()}
