"""Panel users: a file of `name:role:scrypt-hash` lines (role agent or admin), read, checked and rewritten atomically.

Passwords are hashed like the SMTP users (maild.intake.auth). The file is created 0600 and
rewritten through a temporary file in the same folder, so a crash never leaves half a file.
"""

from __future__ import annotations

import functools
import os
import re
import tempfile
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from maild.errors import ConfigError, MaildError
from maild.intake.auth import check_password, hash_password

_NAME = re.compile(r"[A-Za-z0-9._@+-]{1,64}")


class Role(StrEnum):
    AGENT = "agent"  # reads replies and tickets
    ADMIN = "admin"  # also departments, queue and quarantine


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: Role
    password_hash: str


class UserError(MaildError):
    """A users command got a bad name, an unknown user or an existing one."""


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise UserError(f"user name {name!r}: expected 1 to 64 letters, digits or . _ @ + -")
    return name


def parse_users(text: str, path: Path) -> dict[str, User]:
    users: dict[str, User] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, rest = line.partition(":")
        role, _, encoded = rest.partition(":")
        if not _NAME.fullmatch(name) or role not in set(Role) or not encoded.startswith("scrypt$"):
            raise ConfigError(path, f"line {number}", "expected 'name:agent|admin:scrypt$...' (use `maild users add`)")
        users[name] = User(name, Role(role), encoded)
    return users


def load_users(path: Path) -> dict[str, User]:
    """The users of the file; a missing file has none (the panel then lets nobody in)."""
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(path, "web.users_file", f"cannot read: {exc.strerror}") from None
    return parse_users(text, path)


def save_users(path: Path, users: dict[str, User]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(f"{u.name}:{u.role}:{u.password_hash}\n" for u in sorted(users.values(), key=lambda u: u.name))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def add_user(path: Path, name: str, role: Role, password: str) -> User:
    users = load_users(path)
    if check_name(name) in users:
        raise UserError(f"user {name!r} exists (use `maild users passwd` or `maild users remove`)")
    user = User(name, role, hash_password(password))
    save_users(path, {**users, name: user})
    return user


def set_password(path: Path, name: str, password: str) -> None:
    users = load_users(path)
    if name not in users:
        raise UserError(f"no user {name!r} (see `maild users list`)")
    users[name] = User(name, users[name].role, hash_password(password))
    save_users(path, users)


def remove_user(path: Path, name: str) -> None:
    users = load_users(path)
    if users.pop(name, None) is None:
        raise UserError(f"no user {name!r} (see `maild users list`)")
    save_users(path, users)


@functools.cache
def _dummy_hash() -> str:
    return hash_password("not a password")


def verify(users: dict[str, User], name: str, password: str) -> User | None:
    """The user when the password is right; an unknown name costs the same scrypt (no user oracle)."""
    user = users.get(name)
    if user is None:
        check_password(password, _dummy_hash())
        return None
    return user if check_password(password, user.password_hash) else None
