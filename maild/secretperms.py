"""Refusal of secret files that other users can read or write, with the file named and the fix given.

A token key readable by others lets them mint tokens and forge any receipt;
an API token, an upstream or IMAP password, a TLS key likewise give away what
they guard; a users file others can write lets them add themselves as an
SMTP AUTH user and relay. `maild run`, `maild check-config` and SIGHUP all
refuse such a configuration (files not created yet are fine: maild creates
its own 0600).
"""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path

from maild.config import Settings
from maild.errors import ConfigError

_READ = stat.S_IRGRP | stat.S_IROTH
_WRITE = stat.S_IWGRP | stat.S_IWOTH


@dataclass(frozen=True, slots=True)
class Exposure:
    key: str
    path: Path
    mode: int
    problem: str

    def message(self) -> str:
        fix = "chmod 600" if self.problem.startswith("readable") else "chmod go-w"
        return f"{self.path} is {self.problem} (mode {self.mode:04o}): run `{fix} {self.path}`"


def _check(key: str, path: Path | None, *, readable_ok: bool = False) -> Exposure | None:
    if path is None:
        return None
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None  # missing: created 0600 by maild, or reported by whoever reads it
    if mode & _WRITE:
        return Exposure(key, path, mode, "writable by group or others")
    if not readable_ok and mode & _READ:
        return Exposure(key, path, mode, "readable by group or others")
    return None


def exposures(settings: Settings) -> list[Exposure]:
    s = settings
    found = [
        _check("tracking.key_file", s.tracking.key_file),
        _check("http.token_file", s.http.token_file if s.http.listen else None),
        _check("intake.tls_key_file", s.intake.tls_key_file),
        _check("delivery.password_file", s.delivery.password_file),
        # hashes, not passwords: readable is tolerated, writable is not (anyone could add a user)
        _check("intake.users_file", s.intake.users_file, readable_ok=True),
    ]
    found += [_check(f"receipts[{i}].password_file", r.password_file) for i, r in enumerate(s.receipts)]
    return [e for e in found if e is not None]


def refuse_exposed(settings: Settings) -> None:
    """Raise ConfigError naming the first secret file others can read or write."""
    for exposure in exposures(settings):
        raise ConfigError(settings.source, exposure.key, exposure.message())
