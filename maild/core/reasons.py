"""The reason table: one typed row per reason a recipient failed (Sisimai's vocabulary), hard or soft, in a helpdesk's words.

Hard means "the address itself is bad, stop sending to it", and only for a permanent (5.x.x or no) code.
Everything about us, our host or our message (blocked, badreputation, policyviolation, spamdetected,
ratelimited, ...) or about a temporary state (mailboxfull, suspend) is soft: a policy or reputation block
never reads as "the address is bad". How a code and a text decide the reason is in ``reason_rules``.
"""

from __future__ import annotations

from enum import StrEnum

from maild.core.frozen import frozen


class Reason(StrEnum):
    USERUNKNOWN = "userunknown"
    MAILBOXFULL = "mailboxfull"
    HOSTUNKNOWN = "hostunknown"
    FILTERED = "filtered"
    REJECTED = "rejected"
    BLOCKED = "blocked"
    SPAMDETECTED = "spamdetected"
    POLICYVIOLATION = "policyviolation"
    SECURITYERROR = "securityerror"
    VIRUSDETECTED = "virusdetected"
    MESGTOOBIG = "mesgtoobig"
    EXCEEDLIMIT = "exceedlimit"
    EXPIRED = "expired"
    SYSTEMERROR = "systemerror"
    SYSTEMFULL = "systemfull"
    NETWORKERROR = "networkerror"
    TOOMANYCONN = "toomanyconn"
    HASMOVED = "hasmoved"
    SUSPEND = "suspend"
    NORELAYING = "norelaying"
    NOTACCEPT = "notaccept"
    SYNTAXERROR = "syntaxerror"
    CONTENTERROR = "contenterror"
    AUTHFAILURE = "authfailure"
    BADREPUTATION = "badreputation"
    REQUIREPTR = "requireptr"
    NOTCOMPLIANTRFC = "notcompliantrfc"
    SPEEDING = "speeding"
    RATELIMITED = "ratelimited"
    ONHOLD = "onhold"
    MAILERERROR = "mailererror"
    UNDEFINED = "undefined"
    DELETED_BY_ADMIN = "deleted by admin"  # `maild queue delete`
    # Not failures: set by their own readers, never by reason_rules.reason_for().
    DELIVERED = "delivered"
    FEEDBACK = "feedback"  # an ARF abuse report
    VACATION = "vacation"  # an auto-reply


@frozen
class ReasonInfo:
    """One row of the reason table: a reason, whether it is hard, what it means."""

    reason: Reason
    hard: bool  # the address itself is bad (only ever for a permanent code)
    meaning: str  # what it means, in a helpdesk's words
    failure: bool = True  # False for the reasons that are not failures
    default_status: str | None = None  # what a report naming this reason but no code most likely meant


def _row(reason: Reason, hard: bool, meaning: str, status: str | None = None, *, failure: bool = True) -> ReasonInfo:
    return ReasonInfo(reason, hard, meaning, failure, status)


R = Reason
REASON_TABLE: dict[Reason, ReasonInfo] = {row.reason: row for row in (
    _row(R.USERUNKNOWN, True, "address does not exist", "5.1.1"),
    _row(R.HOSTUNKNOWN, True, "domain does not exist", "5.1.2"),
    _row(R.HASMOVED, True, "address has moved", "5.1.6"),
    _row(R.NOTACCEPT, True, "domain accepts no mail", "5.1.10"),
    _row(R.MAILBOXFULL, False, "mailbox full", "5.2.2"),
    _row(R.MESGTOOBIG, False, "message too big for the recipient's server", "5.3.4"),
    _row(R.EXCEEDLIMIT, False, "message exceeds the recipient's limit", "5.2.3"),
    _row(R.EXPIRED, False, "could not be delivered in time (retries ran out)", "4.4.7"),
    _row(R.NETWORKERROR, False, "network or DNS error on the way", "4.4.1"),
    _row(R.SYSTEMFULL, False, "the recipient's server is out of space", "4.3.1"),
    _row(R.SUSPEND, False, "mailbox disabled or suspended", "5.2.1"),
    _row(R.NORELAYING, False, "the server refused to relay it", "5.7.1"),
    _row(R.FILTERED, False, "refused by the recipient's filter", "5.2.0"),
    _row(R.BLOCKED, False, "our server is blocked by the recipient's server", "5.7.1"),
    _row(R.SPAMDETECTED, False, "blocked by the recipient's spam policy", "5.7.1"),
    _row(R.VIRUSDETECTED, False, "refused as a virus", "5.7.1"),
    _row(R.SECURITYERROR, False, "refused for a security requirement", "5.7.0"),
    _row(R.POLICYVIOLATION, False, "refused by the recipient's policy", "5.7.0"),
    _row(R.REJECTED, False, "our sender address was refused", "5.7.1"),
    _row(R.CONTENTERROR, False, "the content was refused", "5.6.0"),
    _row(R.SYSTEMERROR, False, "error on the recipient's server", "5.3.0"),
    _row(R.AUTHFAILURE, False, "failed sender authentication (SPF, DKIM, DMARC)", "5.7.26"),
    _row(R.REQUIREPTR, False, "our server needs a reverse DNS name", "5.7.25"),
    _row(R.TOOMANYCONN, False, "too many connections to the recipient's server", "4.7.0"),
    _row(R.RATELIMITED, False, "sending rate limited by the recipient's server", "4.7.0"),
    _row(R.SPEEDING, False, "sending too fast for the recipient's server", "4.7.0"),
    _row(R.BADREPUTATION, False, "our server's reputation is too low", "5.7.1"),
    _row(R.SYNTAXERROR, False, "protocol error between mail servers", "5.5.2"),
    _row(R.NOTCOMPLIANTRFC, False, "message not standards-compliant"),
    _row(R.ONHOLD, False, "held: the report does not say why"),
    _row(R.MAILERERROR, False, "the recipient's delivery program failed"),
    _row(R.UNDEFINED, False, "failed for a reason the report does not say"),
    _row(R.DELIVERED, False, "delivered", failure=False),
    _row(R.FEEDBACK, False, "reported as abuse", failure=False),
    _row(R.VACATION, False, "automatic reply", failure=False),
    _row(R.DELETED_BY_ADMIN, False, "removed from the queue by an administrator"),
)}
del R

FAILURE_REASONS = frozenset(r for r, row in REASON_TABLE.items() if row.failure)
HARD_REASONS = frozenset(r for r, row in REASON_TABLE.items() if row.hard)


def info(reason: str) -> ReasonInfo | None:
    """The row of a reason name as stored; None for a name maild does not know (an old database, a typo)."""
    try:
        return REASON_TABLE[Reason(reason)]
    except ValueError:
        return None


def is_hard(reason: Reason, status: str | None) -> bool:
    """Hard only for a hard reason under a permanent (5.x.x) or absent code: a 4.x.x is never the address's fault."""
    return reason in HARD_REASONS and not (status or "").startswith("4")


def in_words(reason: str | None, status: str | None = None) -> str | None:
    """"address does not exist — permanent": what a helpdesk shows for a failure; None without a reason."""
    if not reason:
        return None
    row = info(reason)
    if row is None:
        return reason
    if not row.failure:
        return row.meaning
    if row.hard and is_hard(row.reason, status):
        return f"{row.meaning} — permanent"
    if row.reason in _MAYBE_FINE:
        return f"{row.meaning} — the address may be fine"
    return f"{row.meaning} — temporary" if row.reason in _TEMPORARY or (status or "").startswith("4") else row.meaning


# Blocks about us or our message, not the recipient's address.
_MAYBE_FINE = frozenset({
    Reason.BLOCKED, Reason.SPAMDETECTED, Reason.POLICYVIOLATION, Reason.BADREPUTATION, Reason.AUTHFAILURE,
    Reason.REQUIREPTR, Reason.SECURITYERROR, Reason.REJECTED, Reason.NORELAYING, Reason.FILTERED,
    Reason.CONTENTERROR, Reason.VIRUSDETECTED,
})
# States that end by themselves.
_TEMPORARY = frozenset({
    Reason.MAILBOXFULL, Reason.SUSPEND, Reason.EXPIRED, Reason.NETWORKERROR, Reason.SYSTEMFULL,
    Reason.SYSTEMERROR, Reason.TOOMANYCONN, Reason.RATELIMITED, Reason.SPEEDING,
})
