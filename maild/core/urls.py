"""Typed URLs: where delivery sends copies and where sources read mail, parsed once by the configuration.

One ``Scheme`` for all of them; ``UpstreamUrl`` is `[delivery] upstream` (smtp, smtp+starttls, smtps, lmtp,
maildir) and ``SourceUrl`` a source's `url` (maildir, imap, imaps, lmtp to listen on). Parsers raise
ValueError("expected ...") naming the accepted forms, which the configuration turns into an error naming the key.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from urllib.parse import unquote

from maild.core.frozen import frozen
from maild.core.lazyre import lazy
from maild.core.paths import resolve_path


class Scheme(StrEnum):
    SMTP = "smtp"
    SMTP_STARTTLS = "smtp+starttls"
    SMTPS = "smtps"
    LMTP = "lmtp"
    MAILDIR = "maildir"
    IMAP = "imap"
    IMAPS = "imaps"


DEFAULT_PORTS = {
    Scheme.SMTP: 25, Scheme.SMTP_STARTTLS: 587, Scheme.SMTPS: 465, Scheme.LMTP: 24, Scheme.IMAP: 143, Scheme.IMAPS: 993,
}


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


@frozen
class UpstreamUrl:
    """Where the relay delivers: an SMTP, LMTP or maildir URL, parsed."""

    scheme: Scheme
    host: str = ""
    port: int = 0
    path: Path | None = None  # maildir only

    def __str__(self) -> str:
        if self.scheme is Scheme.MAILDIR:
            return f"maildir:{self.path}"
        return f"{self.scheme}://{_host(self.host)}:{self.port}"


@frozen
class SourceUrl:
    """Where receipts are read from: an IMAP, LMTP or maildir URL, parsed."""

    scheme: Scheme
    host: str = ""
    port: int = 0
    user: str = ""
    password: str | None = None  # discouraged: use password_file
    folder: str = "INBOX"
    path: Path | None = None  # maildir only

    def display(self) -> str:
        """The URL without any password: the name of the source in logs and in the store's per-source state."""
        if self.scheme is Scheme.MAILDIR:
            return f"maildir:{self.path}"
        if self.scheme is Scheme.LMTP:
            return f"lmtp://{_host(self.host)}:{self.port}"
        return f"{self.scheme}://{self.user}@{_host(self.host)}:{self.port}/{self.folder}"

    def __str__(self) -> str:
        return self.display()


def maildir_url_path(text: str, base: Path) -> Path | None:
    """The folder of a `maildir:PATH` URL; None for other schemes."""
    if not text.startswith("maildir:"):
        return None
    rest = text[len("maildir:") :]
    if not rest:
        raise ValueError("expected maildir:PATH with a path")
    return resolve_path(rest, base)


_UPSTREAM = lazy(
    r"(?P<scheme>smtp|smtp\+starttls|smtps|lmtp)://(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^:/\[\]@]+))(?::(?P<port>\d+))?/?"
)
_SOURCE = lazy(
    r"(?P<scheme>imaps?|lmtp)://(?:(?P<user>[^:@/]*)(?::(?P<pw>[^@/]*))?@)?"
    r"(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^:/\[\]@]+))(?::(?P<port>\d+))?(?:/(?P<folder>.*))?"
)


def parse_upstream_url(text: str, base: Path) -> UpstreamUrl:
    """Parse `[delivery] upstream`."""
    if (folder := maildir_url_path(text, base)) is not None:
        return UpstreamUrl(Scheme.MAILDIR, path=folder)
    m = _UPSTREAM.fullmatch(text)
    if not m:
        raise ValueError(
            "expected smtp://HOST:PORT, smtp+starttls://HOST:PORT, smtps://HOST:PORT, lmtp://HOST:PORT or maildir:PATH"
        )
    scheme = Scheme(m.group("scheme"))
    port = int(m.group("port")) if m.group("port") else DEFAULT_PORTS[scheme]
    if not 0 < port < 65536:
        raise ValueError("expected a port between 1 and 65535")
    return UpstreamUrl(scheme, m.group("v6") or m.group("host"), port)


def parse_source_url(text: str, base: Path) -> SourceUrl:
    """Parse a source's `url` ([[receipts]] and the like)."""
    if (folder := maildir_url_path(text, base)) is not None:
        return SourceUrl(Scheme.MAILDIR, path=folder)
    m = _SOURCE.fullmatch(text)
    if not m:
        raise ValueError("expected maildir:PATH, imap://USER@HOST:PORT/FOLDER, imaps://USER@HOST:PORT/FOLDER or lmtp://HOST:PORT")
    scheme = Scheme(m.group("scheme"))
    port = int(m.group("port")) if m.group("port") else DEFAULT_PORTS[scheme]
    if not 0 <= port < 65536 or (port == 0 and scheme is not Scheme.LMTP):
        raise ValueError("expected a port between 1 and 65535")
    user = unquote(m.group("user") or "")
    if scheme is not Scheme.LMTP and not user:
        raise ValueError("expected a user name: imap://USER@HOST:PORT/FOLDER")
    pw = m.group("pw")
    return SourceUrl(
        scheme, m.group("v6") or m.group("host"), port, user,
        password=unquote(pw) if pw is not None else None,
        folder=unquote(m.group("folder") or "") or "INBOX",
    )
