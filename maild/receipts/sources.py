"""Receipt sources: parse a [[receipts]] URL and build the source (IMAP, Maildir, LMTP listener) it names."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote

from maild.config import ReceiptSource, Settings, maildir_url_path


class Scheme(StrEnum):
    MAILDIR = "maildir"
    IMAP = "imap"
    IMAPS = "imaps"
    LMTP = "lmtp"


DEFAULT_PORTS = {Scheme.IMAP: 143, Scheme.IMAPS: 993, Scheme.LMTP: 24}


@dataclass(frozen=True)
class ReceiptUrl:
    scheme: Scheme
    host: str = ""
    port: int = 0
    user: str = ""
    password: str | None = None  # discouraged: use password_file
    folder: str = "INBOX"
    path: Path | None = None  # maildir only

    def display(self) -> str:
        """The URL without any password: the name of the source in logs and in imap_state."""
        if self.scheme is Scheme.MAILDIR:
            return f"maildir:{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.scheme is Scheme.LMTP:
            return f"lmtp://{host}:{self.port}"
        return f"{self.scheme}://{self.user}@{host}:{self.port}/{self.folder}"


_NET = re.compile(
    r"(?P<scheme>imaps?|lmtp)://(?:(?P<user>[^:@/]*)(?::(?P<pw>[^@/]*))?@)?"
    r"(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^:/\[\]@]+))(?::(?P<port>\d+))?(?:/(?P<folder>.*))?"
)


def parse_receipt_url(text: str, base: Path) -> ReceiptUrl:
    """Parse receipts[].url; raises ValueError("expected ...") naming the accepted forms."""
    if (folder := maildir_url_path(text, base)) is not None:
        return ReceiptUrl(Scheme.MAILDIR, path=folder)
    m = _NET.fullmatch(text)
    if not m:
        raise ValueError("expected maildir:PATH, imap://USER@HOST:PORT/FOLDER, imaps://USER@HOST:PORT/FOLDER or lmtp://HOST:PORT")
    scheme = Scheme(m.group("scheme"))
    port = int(m.group("port")) if m.group("port") else DEFAULT_PORTS[scheme]
    if not 0 <= port < 65536 or (port == 0 and scheme is not Scheme.LMTP):
        raise ValueError("expected a port between 1 and 65535")
    user = unquote(m.group("user") or "")
    if scheme is not Scheme.LMTP and not user:
        raise ValueError("expected a user name: imap://USER@HOST:PORT/FOLDER")
    folder = unquote(m.group("folder") or "") or "INBOX"
    pw = m.group("pw")
    return ReceiptUrl(scheme, m.group("v6") or m.group("host"), port, user, unquote(pw) if pw is not None else None, folder)


class Source(Protocol):
    """What the daemon runs: `run()` until `stop()`; `connected` for /healthz and /metrics."""

    name: str

    @property
    def connected(self) -> bool: ...

    async def run(self) -> None: ...

    async def stop(self) -> None: ...


def build_sources(settings: Settings, ingestor: Any, store: Any) -> list[Source]:
    """One source per [[receipts]] table, chosen by the URL's scheme."""
    from maild.receipts.imap import ImapSource
    from maild.receipts.lmtp import LmtpSource
    from maild.receipts.maildir import MaildirSource

    sources: list[Source] = []
    for table in settings.receipts:
        url = parse_receipt_url(table.url, settings.base_dir)
        if url.scheme is Scheme.MAILDIR:
            sources.append(MaildirSource(table, ingestor, store, clock=ingestor.clock, base_dir=settings.base_dir))
        elif url.scheme is Scheme.LMTP:
            sources.append(LmtpSource(table, ingestor, store, clock=ingestor.clock, base_dir=settings.base_dir))
        else:
            sources.append(ImapSource(table, ingestor, store, clock=ingestor.clock, base_dir=settings.base_dir))
    return sources


def source_url(table: ReceiptSource, base_dir: Path) -> ReceiptUrl:
    return parse_receipt_url(table.url, base_dir)
