"""SMTP/LMTP client protocol as pure functions: reply lines, EHLO extensions, commands, DATA encoding."""

from __future__ import annotations

import re

from maild.core.syntax import status_code_at_start
from dataclasses import dataclass
from enum import StrEnum

_BARE_LF = re.compile(rb"(?<!\r)\n")
_LEADING_DOT = re.compile(rb"(?m)^\.")


class ReplyClass(StrEnum):
    POSITIVE = "positive"  # 2xx (and 3xx intermediate replies)
    TRANSIENT = "transient"  # 4xx, or no reply at all
    PERMANENT = "permanent"  # 5xx


@dataclass(frozen=True, slots=True)
class Reply:
    """One complete SMTP reply, multi-line replies joined."""

    code: int
    text: str  # the reply lines without their codes, joined by newlines

    @property
    def status(self) -> str | None:
        """The enhanced status code (RFC 3463) at the start of the text, when its class matches the code."""
        m = status_code_at_start(self.text)
        if m and m.group(1) == str(self.code)[0]:
            return m.group(0)
        return None

    @property
    def klass(self) -> ReplyClass:
        return reply_class(self.code)

    def __str__(self) -> str:
        return "\n".join(f"{self.code} {line}".rstrip() for line in self.text.split("\n"))


def reply_class(code: int | None) -> ReplyClass:
    """2xx/3xx go on, 5xx is final, everything else (4xx, garbage, no reply) is worth a retry."""
    if code is not None and 200 <= code < 400:
        return ReplyClass.POSITIVE
    if code is not None and 500 <= code < 600:
        return ReplyClass.PERMANENT
    return ReplyClass.TRANSIENT


def parse_reply_line(line: bytes) -> tuple[int, bool, str]:
    """(code, is_last_line, text) of one reply line; raises ValueError on a malformed line."""
    text = line.rstrip(b"\r\n")
    if len(text) < 3 or not text[:3].isdigit() or (len(text) > 3 and text[3:4] not in (b" ", b"-")):
        raise ValueError(f"malformed SMTP reply line {text[:80]!r}")
    return int(text[:3]), text[3:4] != b"-", text[4:].decode("utf-8", "replace")


def join_reply(lines: list[tuple[int, str]]) -> Reply:
    return Reply(lines[-1][0], "\n".join(t for _, t in lines))


def parse_extensions(reply: Reply) -> dict[str, str]:
    """EHLO keywords (upper case) to their parameters; the first line is the greeting and is skipped."""
    out: dict[str, str] = {}
    for line in reply.text.split("\n")[1:]:
        keyword, _, params = line.strip().partition(" ")
        if keyword:
            out[keyword.upper()] = params.strip()
    return out


def auth_mechanisms(extensions: dict[str, str]) -> set[str]:
    return {m.upper() for m in extensions.get("AUTH", "").split()}


def xtext(text: str) -> str:
    """RFC 3461 xtext: '+', '=' and anything outside printable ASCII as +HH."""
    return "".join(c if "!" <= c <= "~" and c not in "+=" else "".join(f"+{b:02X}" for b in c.encode()) for c in text)


def mail_command(sender: str, params: tuple[str, ...] = ()) -> bytes:
    return _command("MAIL FROM:", sender, params)


def rcpt_command(address: str, params: tuple[str, ...] = ()) -> bytes:
    return _command("RCPT TO:", address, params)


def _command(verb: str, address: str, params: tuple[str, ...]) -> bytes:
    if any(c in address for c in "\r\n<>") or any(c in p for p in params for c in "\r\n"):
        raise ValueError("address or parameter with a line break or angle bracket")
    line = f"{verb}<{address}>" + "".join(f" {p}" for p in params) + "\r\n"
    return line.encode("utf-8")


def encode_data(message: bytes) -> bytes:
    """The DATA payload: lines ended by CRLF, leading dots doubled, the final '.' line appended.

    This is transfer encoding only: the receiver undoes it and sees the message's own lines.
    """
    if message.count(b"\n") != message.count(b"\r\n"):  # C-speed test; the regex only when needed
        message = _BARE_LF.sub(b"\r\n", message)
    if message.startswith(b".") or b"\n." in message:
        message = _LEADING_DOT.sub(b"..", message)
    if message and not message.endswith(b"\r\n"):
        message += b"\r\n"
    return message + b".\r\n"


def needs_8bitmime(message: bytes) -> bool:
    return not message.isascii()
