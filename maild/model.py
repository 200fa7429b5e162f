"""The per-recipient status record every report reader and our own delivery produce."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StatusRecord:
    """One per-recipient status, whatever told us: an SMTP reply, a DSN, an MDN or a heuristic bounce.

    Mirrors Postfix's DSN record: status code, action, reason, diagnostic and remote MTA.
    """

    status: str | None = None  # enhanced status code, "5.1.1"
    action: str | None = None  # DSN action or MDN disposition
    reason: str | None = None  # taxonomy word: userunknown, mailboxfull, expired...
    hard: bool | None = None  # a permanent failure of the address itself
    diagnostic: str | None = None  # the SMTP reply or diagnostic text
    remote_mta: str | None = None
    reply_code: int | None = None  # the basic SMTP reply code, 550
