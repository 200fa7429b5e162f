"""`maild-sendmail`: a sendmail-compatible command that hands a message to maild, or spools it itself, durably.

RT, Znuny, osTicket, FreeScout, HESK, GLPI and iTop can all send through a
local `/usr/sbin/sendmail`. This command reads the message on standard input
and submits it over the daemon's SMTP intake; when the daemon cannot be
reached it stores the message in the spool itself, in the same single
transaction the intake uses, so the daemon delivers it once it runs. It exits
0 only once the message is durably queued, else with a sysexits code and one
line on standard error: 64 usage, 65 bad message, 75 temporary failure.
"""

from __future__ import annotations

import getpass
import os
import re
import smtplib
import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path

from maild import rewrite
from maild.core.syntax import COMMAND_LINE_ADDRESS, UnreadableAddresses, address_pairs

EX_OK = 0
EX_USAGE = 64
EX_DATAERR = 65
EX_TEMPFAIL = 75

# -o options sendmail and Postfix accept that change nothing here (-oi is handled; -om, -oem, -odb ...).
SYSTEM_CONFIG = Path("/etc/maild/maild.toml")


class Usage(Exception):
    """A command line maild-sendmail cannot run."""


@dataclass
class Invocation:
    recipients: list[str] = field(default_factory=list)
    from_headers: bool = False  # -t
    ignore_dots: bool = False  # -i / -oi
    sender: str | None = None  # -f
    full_name: str | None = None  # -F
    config: str | None = None  # -C
    warnings: list[str] = field(default_factory=list)


def parse_args(argv: Sequence[str]) -> Invocation:
    """sendmail's usual flags; raises Usage for anything that would not send a message."""
    inv = Invocation()
    args = list(argv)
    i = 0

    def value(flag: str, arg: str) -> str:
        nonlocal i
        if len(arg) > 2:
            return arg[2:]
        i += 1
        if i >= len(args):
            raise Usage(f"option {flag} needs a value")
        return args[i]

    while i < len(args):
        arg = args[i]
        if arg == "--":
            inv.recipients += args[i + 1 :]
            break
        if not arg.startswith("-") or arg == "-":
            inv.recipients.append(arg)
        elif arg == "-t":
            inv.from_headers = True
        elif arg in ("-i", "-oi"):
            inv.ignore_dots = True
        elif arg.startswith("-f") or arg.startswith("-r"):
            inv.sender = value(arg[:2], arg)
        elif arg.startswith("-F"):
            inv.full_name = value("-F", arg)
        elif arg.startswith("-C"):
            inv.config = value("-C", arg)
        elif arg == "-bm":
            pass  # deliver mail: the default and only mode
        elif arg.startswith("-b"):
            raise Usage(f"mode {arg} is not supported (only -bm, reading a message from standard input)")
        elif arg.startswith("-o"):
            option = arg[2:] or value("-o", arg)
            inv.warnings.append(f"option -o{option} ignored")
        elif arg in ("-v", "-m", "-n", "-U") or arg.startswith(("-N", "-R", "-V", "-X", "-B", "-h", "-q", "-L")):
            # accepted and ignored like Postfix's sendmail does for its compatibility flags
            if arg[:2] in ("-N", "-R", "-V", "-X", "-B", "-h", "-L") and len(arg) == 2:
                value(arg, arg)
            inv.warnings.append(f"option {arg} ignored")
        else:
            raise Usage(f"unknown option {arg}")
        i += 1
    for r in inv.recipients:
        if not COMMAND_LINE_ADDRESS.fullmatch(r.strip()):
            raise Usage(f"not an address: {r!r}")
    if inv.sender is not None and inv.sender not in ("", "<>") and not COMMAND_LINE_ADDRESS.fullmatch(inv.sender):
        raise Usage(f"-f: not an address: {inv.sender!r}")
    return inv


def normalise(raw: bytes, *, ignore_dots: bool) -> bytes:
    """Local line ends become CRLF; without -i a line of a single dot ends the message (sendmail's rule)."""
    text = raw.replace(b"\r\n", b"\n")
    if not ignore_dots:
        if text.startswith(b".\n") or text == b".":
            text = b""
        else:
            cut = text.find(b"\n.\n")
            if cut >= 0:
                text = text[: cut + 1]
            elif text.endswith(b"\n."):
                text = text[:-1]
    if text and not text.endswith(b"\n"):
        text += b"\n"
    return text.replace(b"\n", b"\r\n")


def prepare(raw: bytes, inv: Invocation, *, default_sender: str) -> tuple[bytes, str, list[str]]:
    """(the message as submitted, envelope sender, recipients): -t reads To/Cc/Bcc and drops Bcc; From/Date added when missing."""
    data = normalise(raw, ignore_dots=inv.ignore_dots)
    headers, body = rewrite.split_message(data)
    if not body and headers and b"\r\n\r\n" not in data:
        # a message of headers only still needs its blank line
        body = b"\r\n"
    sender = default_sender if inv.sender is None else ("" if inv.sender == "<>" else inv.sender)
    recipients = list(inv.recipients)
    if inv.from_headers:
        for name in ("To", "Cc", "Bcc"):
            recipients += [a for _, a in address_pairs(rewrite.get_all(headers, name)) if "@" in a]
        headers = rewrite.strip(headers, ["Bcc"])
    seen: set[str] = set()
    unique = [r for r in recipients if not (r.lower() in seen or seen.add(r.lower()))]  # type: ignore[func-returns-value]
    added: list[tuple[str, str]] = []
    if rewrite.get(headers, "From") is None:
        name = inv.full_name or ""
        ascii_name = name if name.isascii() and not re.search(r'[()<>@,;:\\".\[\]]', name) else ""
        added.append(("From", f"{ascii_name} <{sender}>" if ascii_name else (sender or "MAILER-DAEMON")))
    if rewrite.get(headers, "Date") is None:
        added.append(("Date", formatdate(localtime=False)))
    if added:
        headers = rewrite.prepend(headers, added)
    return headers + body, sender, unique


def default_sender() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "nobody"
    return f"{user}@{socket.getfqdn()}"


# ------------------------------------------------------------------ I/O


class Temporary(Exception):
    pass


class Refused(Exception):
    pass


def submit_smtp(host: str, port: int, data: bytes, sender: str, recipients: list[str], timeout: float) -> str:
    """Submit over the intake; returns its 250 line. Raises OSError when unreachable, Refused/Temporary on replies."""
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    try:
        with smtplib.SMTP(host, port, timeout=timeout, local_hostname="localhost") as client:
            client.ehlo()
            refused = client.sendmail(sender, recipients, data)
            for address, (code, text) in refused.items():
                print(f"maild-sendmail: warning: {address} refused: {code} {text.decode(errors='replace')}", file=sys.stderr)
            return "queued"
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [c for c, _ in exc.recipients.values()]
        first = next(iter(exc.recipients.items()))
        line = f"{first[0]}: {first[1][0]} {first[1][1].decode(errors='replace')}"
        raise (Temporary if all(400 <= c < 500 for c in codes) else Refused)(line) from None
    except smtplib.SMTPResponseException as exc:
        line = f"{exc.smtp_code} {exc.smtp_error.decode(errors='replace') if isinstance(exc.smtp_error, bytes) else exc.smtp_error}"
        if 400 <= exc.smtp_code < 500 or exc.smtp_code == 421:
            raise Temporary(line) from None
        raise Refused(line) from None
    except smtplib.SMTPServerDisconnected as exc:
        raise OSError(str(exc)) from None


def spool_directly(settings: object, data: bytes, sender: str, recipients: list[str]) -> str:
    """Store the message as the intake would, in one transaction; returns its queue id."""
    from maild import clock, tokens
    from maild.config import Settings
    from maild.intake.accept import build_submission
    from maild.spool import enqueue
    from maild.store import open_for_command, transaction

    assert isinstance(settings, Settings)
    sub, _ = build_submission(
        data, sender, recipients, settings.tracking, peer=f"maild-sendmail:{os.getuid()}", received_at=clock.now()
    )
    keys = tokens.load_keys(settings.tracking.key_file) if sub.tracked else None
    db = open_for_command(
        settings.store.path, busy_timeout=settings.store.busy_timeout, receipts_default=settings.tracking.receipts_default
    )
    try:
        spooled = transaction(db, lambda d: enqueue(d, sub, keys))
    finally:
        db.conn.close()
    return spooled.queue_id


def config_path(inv: Invocation) -> Path:
    if inv.config:
        return Path(inv.config)
    env = os.environ.get("MAILD_CONFIG")
    if env:
        return Path(env)
    return SYSTEM_CONFIG if SYSTEM_CONFIG.exists() else Path("maild.toml")


def _fail(code: int, text: str) -> int:
    print(f"maild-sendmail: {text}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    from maild import config
    from maild.errors import ConfigError, KeyFileError, MaildError

    try:
        inv = parse_args(sys.argv[1:] if argv is None else argv)
    except Usage as exc:
        return _fail(EX_USAGE, f"{exc} (usage: maild-sendmail [-t] [-i] [-f SENDER] [-F NAME] [-C CONFIG] [--] [RCPT...])")
    for warning in inv.warnings:
        print(f"maild-sendmail: warning: {warning}", file=sys.stderr)
    path = config_path(inv)
    try:
        settings = config.load(path) if path.exists() or inv.config or os.environ.get("MAILD_CONFIG") else config.load()
    except ConfigError as exc:
        return _fail(EX_TEMPFAIL, f"configuration: {exc}")  # the helpdesk keeps the message and retries
    limit = int(settings.intake.max_message_size)
    raw = sys.stdin.buffer.read(limit + 1)
    if len(raw) > limit:
        return _fail(EX_DATAERR, f"message larger than intake.max_message_size ({limit} bytes): not sent")
    if not raw.strip():
        return _fail(EX_DATAERR, "empty message on standard input: not sent")
    try:
        data, sender, recipients = prepare(raw, inv, default_sender=inv.sender if inv.sender is not None else default_sender())
    except UnreadableAddresses as exc:
        return _fail(EX_DATAERR, f"-t: {exc}: not sent")
    if not recipients:
        return _fail(EX_USAGE, "no recipients (give them as arguments, or -t to read To/Cc/Bcc)")
    if len(data) > limit:
        return _fail(EX_DATAERR, f"message larger than intake.max_message_size ({limit} bytes): not sent")
    if b"\r" in data.replace(b"\r\n", b""):
        return _fail(EX_DATAERR, "message contains a bare CR: not sent")
    listen = settings.intake.listen
    unreachable = "no intake listener configured"
    for host, port in listen[:1]:
        try:
            submit_smtp(host, port, data, sender, recipients, timeout=min(settings.intake.data_timeout, 60.0))
            return EX_OK
        except Temporary as exc:
            return _fail(EX_TEMPFAIL, f"intake said try later: {exc}")
        except Refused as exc:
            return _fail(EX_DATAERR, f"intake refused the message: {exc}")
        except OSError as exc:
            unreachable = f"intake {host}:{port} unreachable ({exc})"
    try:
        queue_id = spool_directly(settings, data, sender, recipients)
    except (KeyFileError, MaildError, OSError) as exc:
        return _fail(EX_TEMPFAIL, f"{unreachable}, and spooling directly failed: {exc}")
    print(f"maild-sendmail: {unreachable}; spooled directly as {queue_id}", file=sys.stderr)
    return EX_OK


if __name__ == "__main__":
    raise SystemExit(main())
