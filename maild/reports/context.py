"""The parsed message shared by the detectors, with the lookups they all need computed once, and their common result."""

from __future__ import annotations

import re
from collections.abc import Callable
from email.message import Message

from maild.core.lazyre import lazy
from maild.core.once import cached_property
from maild.reports import mime, mimetree
from maild.reports.clues import ParseHints
from maild.reports.model import RecipientResult, ReportKind

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)
if TYPE_CHECKING:
    from typing import Any, TypeVar, cast
else:
    from maild.core.hints import TypeVar, cast

T = TypeVar("T")

_HTML_TAG = lazy(r"<(?:script|style)[^>]*>.*?</(?:script|style)>|<[^>]+>", re.I | re.S)
_HTML_BREAK = lazy(r"<(?:br|/p|/div|/tr|/li|/h\d)[^>]*>", re.I)


class Finding:
    """What one detector recognised; the pipeline turns it into a Report.

    A plain class rather than a dataclass: the dataclasses module (with the inspect, ast, dis and tokenize it
    imports) was loaded by `maild parse` and `maild ingest` for this one mutable class (the Report values are
    core.frozen records, which need none).
    """

    __slots__ = ("kind", "recipients", "envelope_id", "reporting_mta", "reporting_ua", "arrival_date", "original_message_id")

    def __init__(
        self, kind: ReportKind, recipients: list[RecipientResult] | None = None, envelope_id: str | None = None,
        reporting_mta: str | None = None, reporting_ua: str | None = None, arrival_date: str | None = None,
        original_message_id: str | None = None,
    ) -> None:
        self.kind = kind
        self.recipients: list[RecipientResult] = [] if recipients is None else recipients
        self.envelope_id = envelope_id
        self.reporting_mta = reporting_mta
        self.reporting_ua = reporting_ua
        self.arrival_date = arrival_date
        self.original_message_id = original_message_id

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Finding):
            return NotImplemented
        return self._values() == other._values()

    __hash__ = None  # type: ignore[assignment]  # mutable, as a dataclass without frozen=True

    def __repr__(self) -> str:
        return "Finding(" + ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__) + ")"

    def copy(self) -> Finding:
        """A copy whose recipient list the caller may change (the dialects adjust what a shared reader found)."""
        return Finding(
            self.kind, list(self.recipients), self.envelope_id, self.reporting_mta, self.reporting_ua, self.arrival_date,
            self.original_message_id,
        )


class Context:
    """One message being parsed: the compat32 tree, the hints, the time budget and the problems noticed so far."""

    def __init__(self, msg: Message, hints: ParseHints, budget: mime.Budget, problems: list[str]) -> None:
        self.msg = msg
        self.hints = hints
        self.budget = budget
        self.problems = problems
        self._once: dict[str, Any] = {}
        self._headers: dict[str, str | None] = {}
        self._all_headers: dict[str, tuple[str, ...]] = {}

    def once(self, key: str, compute: Callable[[], T]) -> T:
        """compute() the first time `key` is asked for, the same value after: a dialect and the generic reader
        after it read the same status part and the same heuristics, and a message pays for them once."""
        if key in self._once:
            return cast(T, self._once[key])
        value = self._once[key] = compute()
        return value

    def note(self, problem: str) -> None:
        if problem not in self.problems:
            self.problems.append(problem)

    @cached_property
    def top(self) -> dict[str, list[str]]:
        return mime.headers(self.msg)

    def header(self, name: str) -> str | None:
        key = name.lower()
        decoded = self._headers
        if key not in decoded:  # every detector asks for From, Subject, Auto-Submitted...: decoded once each
            values = self.top.get(key)
            decoded[key] = mime.decode_header(values[0]) if values else None
        return decoded[key]

    def header_all(self, name: str) -> list[str]:
        key = name.lower()
        decoded = self._all_headers.get(key)
        if decoded is None:
            decoded = self._all_headers[key] = tuple(v for v in (mime.decode_header(x) for x in self.top.get(key, [])) if v)
        return list(decoded)

    @cached_property
    def parts(self) -> list[tuple[Message, int]]:
        """Every part outside attached messages: a report forwarded as an attachment is somebody else's."""
        walked = list(mime.walk(self.msg, self.hints.max_depth))
        if len(walked) >= 500:
            self.note("too many MIME parts")
        if any(depth >= self.hints.max_depth for _, depth in walked):
            self.note("MIME depth limit")
        return walked

    @cached_property
    def subject(self) -> str:
        return self.header("subject") or ""

    @cached_property
    def sender(self) -> str:
        return (self.header("from") or "") + " " + (self.header("sender") or "")

    @cached_property
    def returned(self) -> Message | None:
        """The headers of our message as the report returned it (message/rfc822 or text/rfc822-headers)."""
        for part, _ in self.parts:
            ctype = mime.content_type(part)
            if ctype in ("message/rfc822", "message/global", "message/rfc822-headers"):
                payload = part._payload  # type: ignore[attr-defined]
                if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                    inner = payload[0]
                    if inner._headers:  # type: ignore[attr-defined]
                        return inner
                    # A base64-encoded attached message, or one compat32 could not split.
                    text = mime.part_text(part)
                    return mimetree.parse_text(text) if text.strip() else None
            if ctype in ("text/rfc822-headers", "text/rfc822-header", "text/global-headers"):
                text = mime.part_text(part)
                return mimetree.parse_text(text.lstrip() + "\n\n")
        return None

    @cached_property
    def text_parts(self) -> list[str]:
        """Decoded human-readable parts, in order; HTML flattened when it is all there is."""
        plain: list[str] = []
        html: list[str] = []
        for part, _ in self.parts:
            if part.is_multipart():
                continue
            ctype = mime.content_type(part)
            if ctype.startswith("multipart/") and isinstance(part._payload, str):  # type: ignore[attr-defined]
                # A multipart whose boundary went missing: its body is all the text there is.
                plain.append(mime.part_text(part))
            elif ctype == "text/plain" or ctype == "text" or (ctype.startswith("text/") and ctype not in ("text/html", "text/rfc822-headers", "text/calendar")):
                plain.append(mime.part_text(part))
            elif ctype == "text/html":
                html.append(flatten_html(mime.part_text(part)))
            if sum(map(len, plain)) > 200_000:
                break
        # An empty text/plain beside the HTML (Outlook's multipart/alternative receipts): the HTML is the text.
        return plain if any(p.strip() for p in plain) else html or plain

    @cached_property
    def body_text(self) -> str:
        return "\n".join(self.text_parts)


def flatten_html(html: str) -> str:
    """The text of an HTML body: scripts and styles dropped, block ends as line breaks, entities decoded."""
    import html as htmlmod

    text = _HTML_BREAK.sub("\n", html)
    text = _HTML_TAG.sub("", text)
    return htmlmod.unescape(text).replace("\xa0", " ")
