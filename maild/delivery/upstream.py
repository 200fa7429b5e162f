"""Upstream URLs: where delivery sends copies (smtp, smtp+starttls, smtps, lmtp or a local Maildir)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from maild.config import maildir_url_path


class Scheme(StrEnum):
    SMTP = "smtp"
    SMTP_STARTTLS = "smtp+starttls"
    SMTPS = "smtps"
    LMTP = "lmtp"
    MAILDIR = "maildir"


DEFAULT_PORTS = {Scheme.SMTP: 25, Scheme.SMTP_STARTTLS: 587, Scheme.SMTPS: 465, Scheme.LMTP: 24}


@dataclass(frozen=True)
class Upstream:
    scheme: Scheme
    host: str = ""
    port: int = 0
    path: Path | None = None  # maildir only

    def __str__(self) -> str:
        if self.scheme is Scheme.MAILDIR:
            return f"maildir:{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


_URL = re.compile(r"(?P<scheme>smtp|smtp\+starttls|smtps|lmtp)://(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^:/\[\]@]+))(?::(?P<port>\d+))?/?")


def parse_upstream_url(text: str, base: Path) -> Upstream:
    """Parse delivery.upstream; raises ValueError("expected ...") naming the accepted forms."""
    if (folder := maildir_url_path(text, base)) is not None:
        return Upstream(Scheme.MAILDIR, path=folder)
    m = _URL.fullmatch(text)
    if not m:
        raise ValueError(
            "expected smtp://HOST:PORT, smtp+starttls://HOST:PORT, smtps://HOST:PORT, lmtp://HOST:PORT or maildir:PATH"
        )
    scheme = Scheme(m.group("scheme"))
    port = int(m.group("port")) if m.group("port") else DEFAULT_PORTS[scheme]
    if not 0 < port < 65536:
        raise ValueError("expected a port between 1 and 65535")
    return Upstream(scheme, m.group("v6") or m.group("host"), port)
