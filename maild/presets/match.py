"""Apply presets to a message: which product wrote it, its ticket, its internal ids, its department, or why not tracked.

Pure: parsed header fields and body bytes in, a `Match` out. `auto` tries the
operator's presets that have fingerprints, then the built-in ones in
`builtin.AUTO_ORDER`, and falls back to `generic` (the `X-Ticket-ID` /
`X-Department` / subject-pattern rules of `[tracking]`).
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterable, Mapping, Sequence

from maild import rewrite
from maild.core.once import cached_property
from maild.presets import builtin, loader
from maild.presets.model import Match, Preset, Rule, Where

TICKET_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
_BODY_LIMIT = 1 << 20
_NONE: list[str] = []  # shared, never mutated



BUILTIN: dict[str, Preset] = {name: loader.preset(name, t, builtin=True) for name, t in builtin.TABLES.items()}


def generic(ticket_header: str, department_header: str, subject_pattern: re.Pattern[str]) -> Preset:
    """Today's rules as a preset: the ticket header, else the subject pattern; the department header."""
    return Preset(
        name=builtin.GENERIC,
        ticket=(
            Rule(Where.HEADER, re.compile(rf"^{TICKET_RE.pattern}$"), ticket_header, "{0}"),
            Rule(Where.SUBJECT, subject_pattern, "", "{1}"),
        ),
        department=(Rule(Where.HEADER, re.compile(r"(.{1,200})"), department_header, "{1}"),),
    )


class View:
    """The parts of one message rules read, each computed once: fields indexed by name, decoded on first use."""

    def __init__(self, fields: Sequence[rewrite.Field], body: bytes) -> None:
        self.fields = fields
        self._body = body
        self._index: dict[str, list[rewrite.Field]] = {}
        for f in fields:
            self._index.setdefault(f.name.lower(), []).append(f)
        self._decoded: dict[str, list[str]] = {}

    def header(self, name: str) -> list[str]:
        key = name.lower()
        values = self._decoded.get(key)
        if values is None:
            found = self._index.get(key)
            if not found:
                return _NONE  # most fingerprint headers are absent: no list, no decoding
            values = self._decoded[key] = [f.value.strip() for f in found]
        return values

    def names(self) -> Iterable[str]:
        """The names of the message's fields, lower case, each once."""
        return self._index.keys()

    def values(self, rule: Rule) -> list[str]:
        if rule.where is Where.HEADER:
            return self.header(rule.header)
        if rule.where is Where.SUBJECT:
            return self._subject_list
        if rule.where is Where.MESSAGE_ID:
            return self._message_id_list
        return [self.body_text]

    @cached_property
    def _subject_list(self) -> list[str]:
        return [self.subject]

    @cached_property
    def _message_id_list(self) -> list[str]:
        return [self.message_id]

    @cached_property
    def subject(self) -> str:
        found = self.header("Subject")
        return found[0] if found else ""

    @cached_property
    def message_id(self) -> str:
        found = self.header("Message-ID")
        return found[0] if found else ""

    @cached_property
    def body_text(self) -> str:
        """The decoded text parts (first megabyte); never raises."""
        raw = b"".join(f.raw for f in self.fields) + self._body[:_BODY_LIMIT]
        try:
            msg = email.message_from_bytes(raw, policy=email.policy.compat32)
            texts = []
            for part in msg.walk():
                if part.get_content_maintype() == "text":
                    payload = part.get_payload(decode=True)
                    if isinstance(payload, bytes):
                        texts.append(payload.decode(part.get_content_charset() or "latin-1", "replace"))
            return "\n".join(texts)
        except Exception:  # a broken MIME structure: the raw text is still searchable
            return self._body[:_BODY_LIMIT].decode("latin-1")


def osticket_tag(groups: Mapping[str, str]) -> dict[str, str]:
    """osTicket's Message-ID tag: base64 of pack('VVVa', user id, thread entry id, thread id, recipient type)
    followed by 5 bytes of HMAC (include/class.mailer.php getMessageId); the ids read without the salt."""
    import base64
    import binascii
    import struct

    tag = groups.get("osticket_tag", "")
    try:
        raw = base64.b64decode(tag + "=" * (-len(tag) % 4), validate=True)
        user, entry, thread, kind = struct.unpack("<IIIc", raw[:13])
    except (binascii.Error, struct.error, ValueError):
        return {}
    return {"osticket_user": str(user), "osticket_entry": str(entry), "osticket_thread": str(thread),
            "osticket_recipient_type": kind.decode("latin-1")}


DECODERS = {"osticket-tag": osticket_tag}


def _render(rule: Rule, m: re.Match[str]) -> str:
    # groups("") and groupdict(""): a group that took no part is "", as `g or ""` made it (an empty one is "" too)
    value = rule.value.format(m.group(0), *m.groups(""), **m.groupdict("")).strip()
    if rule.strip_zeros and value.isdigit():
        value = value.lstrip("0") or "0"
    return value


def _first(rules: Sequence[Rule], view: View) -> tuple[str, dict[str, str]] | None:
    for rule in rules:
        for text in view.values(rule):
            m = rule.pattern.search(text)
            if m is not None:
                named = {k: v for k, v in m.groupdict().items() if v} if rule.pattern.groupindex else {}
                return _render(rule, m), named
    return None


def _any(rules: Sequence[Rule], view: View) -> Rule | None:
    for rule in rules:
        if any(rule.pattern.search(text) for text in view.values(rule)):
            return rule
    return None


def detect(view: View, custom: Mapping[str, Preset]) -> str | None:
    """The product whose fingerprint the message carries, operator presets first; None: none does."""
    screen = _screen_for(custom)
    first = screen.first_candidate(view)  # most mail carries no fingerprint: a few looks instead of every rule's
    if first is None:
        return None
    for preset in screen.order[first:]:
        if _any(preset.detect, view) is not None:
            return preset.name
    return None


class _Screen:
    """Which preset of the `auto` order is the first whose fingerprint can match a message, in a few looks.

    A header rule can match only when the message has that field: one dict look per field of the message (a
    handful), not one per fingerprint field name. Subject and Message-ID rules are searched as they are, on the
    same text; on an empty text each one's answer is the one found when the screen was built. A body rule is not
    screened: it always counts as a candidate. `detect` then tries every rule in order from that preset on, so the
    screen never changes the answer: the presets before it cannot match (no field they read is there, no pattern of
    theirs matched).
    """

    __slots__ = ("order", "headers", "texts", "body")

    def __init__(self, order: Sequence[Preset]) -> None:
        self.order = tuple(order)
        self.headers: dict[str, int] = {}  # field name (lower case) -> the first preset with a rule on it
        # subject and Message-ID rules in order: (is it a subject rule, pattern, preset, whether it matches "")
        self.texts: list[tuple[bool, re.Pattern[str], int, bool]] = []
        self.body: int | None = None  # the first preset with a body rule
        for i, preset in enumerate(self.order):
            for rule in preset.detect:
                if rule.where is Where.HEADER:
                    self.headers.setdefault(rule.header.lower(), i)
                elif rule.where is Where.BODY:
                    self.body = i if self.body is None else self.body
                else:
                    self.texts.append((rule.where is Where.SUBJECT, rule.pattern, i, rule.pattern.search("") is not None))

    def first_candidate(self, view: View) -> int | None:
        """The index in `order` of the first preset that may match; None: none can."""
        best: int | None = None
        headers = self.headers
        for name in view.names():
            i = headers.get(name)
            if i is not None and (best is None or i < best):
                best = i
        for is_subject, pattern, i, on_empty in self.texts:
            if best is not None and i >= best:
                break  # texts are in preset order: nothing after this one can come first
            text = view.subject if is_subject else view.message_id
            if pattern.search(text) is not None if text else on_empty:
                best = i
                break
        if self.body is not None and (best is None or self.body < best):
            best = self.body
        return best


_SCREENS: dict[int, tuple[Mapping[str, Preset], _Screen]] = {}


def _screen_for(custom: Mapping[str, Preset]) -> _Screen:
    """The screen of the `auto` order under these operator presets, built once per presets table (the settings')."""
    kept = _SCREENS.get(id(custom))
    if kept is not None and kept[0] is custom:
        return kept[1]
    order = [p for p in custom.values() if p.detect] + [BUILTIN[n] for n in builtin.AUTO_ORDER if n not in custom]
    screen = _Screen(order)
    if len(_SCREENS) >= 16:  # a reloaded configuration brings a new table: keep a few, never grow without bound
        _SCREENS.clear()
    _SCREENS[id(custom)] = (custom, screen)
    return screen


def choose(name: str, view: View, custom: Mapping[str, Preset], generic_preset: Preset) -> tuple[Preset, bool]:
    """(the preset to apply, whether its fingerprint matched); `name` is the configured one, maybe "auto"."""
    name = builtin.ALIASES.get(name, name)
    if name == builtin.AUTO:
        found = detect(view, custom)
        if found is None:
            return generic_preset, False
        return (custom.get(found) or BUILTIN[found]), True
    if name == builtin.GENERIC:
        return generic_preset, False
    preset = custom.get(name) or BUILTIN[name]
    return preset, _any(preset.detect, view) is not None


def apply(preset: Preset, view: View, *, fingerprint: bool) -> Match:
    """Ticket, ids, department and skip reason of one message under one preset."""
    ids: dict[str, str] = {}
    for rule in preset.ids:
        for text in view.values(rule):
            m = rule.pattern.search(text)
            if m is not None:
                groups = {k: v for k, v in m.groupdict().items() if v}
                ids.update(groups)
                if rule.decode:
                    ids.update(DECODERS[rule.decode](groups))
                break
    found = _first(preset.ticket, view)
    ticket: str | None = None
    malformed = ""
    if found is not None:
        ticket, groups = found
        ids.update(groups)
        if not TICKET_RE.fullmatch(ticket):
            malformed, ticket = f"ticket id {ticket[:80]!r} is not usable", None
    elif fingerprint and preset.ticket:
        malformed = "no ticket id where this helpdesk puts it"
    department = None
    dep = _first(preset.department, view)
    if dep is not None:
        value = dep[0][:200]
        unless = ids.get(preset.department_unless_id) if preset.department_unless_id else None
        if value and value.casefold() not in preset.department_ignore and value != unless:
            department = value
    skip_rule = _any(preset.skip, view)
    skipped = f"{preset.name} system notice ({skip_rule.header or skip_rule.where})" if skip_rule else ""
    return Match(preset.name, ticket, department, ids, skipped, malformed)
