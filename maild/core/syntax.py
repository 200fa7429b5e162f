"""Mail syntax, one place for all of maild: the enhanced status code (RFC 3463) and every address pattern.

`STATUS_CODE` finds "5.1.1" in a DSN field, a diagnostic or an SMTP reply
(never inside a longer dotted number such as a version or an IP address);
`fullmatch` checks a lone code. `ADDRESS` finds a mailbox (a bare or quoted
local part at a domain or an address literal) in header values and text and,
with `fullmatch`, checks one. `ADDRESS_PATTERN` is its text, for patterns that
find an address in a context (after "Final-Recipient:", inside <...>).
`SIMPLE_MAILBOX` reads the common one-mailbox header ("Name <a@b>" or a@b)
without the full RFC 5322 parser; `address_pairs` is the full parser
(`email.utils.getaddresses`) with a clear error instead of a RecursionError
on comments nested a few hundred deep.

Reports are read leniently (the world writes what it writes); what intake
accepts in MAIL FROM and RCPT TO is checked strictly by `address_problem`
(RFC 5321 section 4.1.2, RFC 6531): dot-atom or quoted-string local parts of
at most 64 octets, host names of LDH labels of 1 to 63 characters (255 in
all) or address literals; no control character anywhere; UTF-8 in the local
part or the domain only when the client asked for SMTPUTF8, and a non-UTF-8
byte never (intake refuses it with 553 rather than failing at the end of DATA).
"""

from __future__ import annotations

import ipaddress
import re

from maild.core.lazyre import lazy

# The class first and the lookbehind after it (not before a class digit or dot): the engine skips to each 2, 4 or
# 5 instead of trying every offset of a notice's text.
STATUS_CODE = re.compile(r"([245])(?<![\d.][245])\.(\d{1,3})\.(\d{1,3})(?![\d.]*\d)")

# Bounded, and a bare local part starts only where a run of its characters starts: unbounded, a finder tried every
# position of a long run without "@" and scanned to its end each time (20,000 characters: 2e8 steps, seconds).
_DOMAIN = r"[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,253}[A-Za-z0-9])?"
_LOCAL = r"(?<![^\s<>()\[\]\",;:@])[^\s<>()\[\]\",;:@]{1,256}"
ADDRESS_PATTERN = rf"\"[^\"\s@]+\"@{_DOMAIN}|{_LOCAL}@{_DOMAIN}|{_LOCAL}@\[(?:IPv6:)?[0-9.:a-fA-F]+\]"
ADDRESS = re.compile(ADDRESS_PATTERN)
_SIMPLE_LOCAL_OR_DOMAIN = r'[^<>@\s",;:()]+'
# The patterns below serve intake, the sendmail command and inbound headers: compiled on first use, not
# at the start of every command that imports this module for STATUS_CODE and ADDRESS.
SIMPLE_MAILBOX = lazy(
    rf'\s*(?:"[^"\\<>]*"|[^",;:<>@()\\]*)\s*<({_SIMPLE_LOCAL_OR_DOMAIN}@{_SIMPLE_LOCAL_OR_DOMAIN})>\s*'
    rf"|\s*({_SIMPLE_LOCAL_OR_DOMAIN}@{_SIMPLE_LOCAL_OR_DOMAIN})\s*"
)


def status_code_at_start(text: str) -> re.Match[str] | None:
    """An enhanced status code opening `text` and followed by white space or the end (RFC 2034: "250 2.1.0 Ok")."""
    m = STATUS_CODE.match(text)
    if m is None or (m.end() < len(text) and not text[m.end()].isspace()):
        return None
    return m


# ------------------------------------------------------------------ envelope addresses (RFC 5321, RFC 6531)

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_DOT_ATOM = lazy(rf"{_ATEXT}+(?:\.{_ATEXT}+)*")
_UTF8_ATEXT = r"(?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]|[^\x00-\x7f])"
_DOT_ATOM_UTF8 = lazy(rf"{_UTF8_ATEXT}+(?:\.{_UTF8_ATEXT}+)*")
_QUOTED = lazy(r'"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*"')
_QUOTED_UTF8 = lazy(r'"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|[^\x00-\x7f]|\\[\x20-\x7e])*"')
_LABEL = lazy(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_ANY_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
# `<dot-atom@host.name>`, the common SMTP path, found without aiosmtpd's RFC 5322 parser (intake's fast path;
# address_problem still checks what it finds, lengths included).
SIMPLE_PATH = lazy(rf"<({_ATEXT}+(?:\.{_ATEXT}+)*@{_ANY_LABEL}(?:\.{_ANY_LABEL})*)>")
# What maild-sendmail takes as an address on its command line (sendmail's own loose check; intake checks it
# strictly when it submits).
COMMAND_LINE_ADDRESS = lazy(r"[^@\s<>()\[\],;:\"]+@[A-Za-z0-9.\-\[\]:_]+")
_CONTROL = lazy(r"[\x00-\x1f\x7f-\x9f]")


def address_problem(address: str, *, smtputf8: bool) -> str | None:
    """None when `address` is a valid envelope address, else what is wrong with it (for the log)."""
    try:
        raw = address.encode("utf-8")
    except UnicodeEncodeError:
        return "not UTF-8"  # aiosmtpd keeps undecodable bytes as surrogates
    if _CONTROL.search(address):
        return "control character"
    if not smtputf8 and not address.isascii():
        return "non-ASCII without SMTPUTF8"
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        return "no local part or no domain"
    if len(local.encode("utf-8")) > 64:
        return "local part over 64 octets"
    if len(raw) > 254:
        return "address over 254 octets"
    atom, quoted = (_DOT_ATOM_UTF8, _QUOTED_UTF8) if smtputf8 else (_DOT_ATOM, _QUOTED)
    if not (atom.fullmatch(local) or quoted.fullmatch(local)):
        return "local part syntax"
    return domain_problem(domain)


def domain_problem(domain: str) -> str | None:
    if domain.startswith("[") and domain.endswith("]"):
        literal = domain[1:-1]
        try:
            if literal[:5].lower() == "ipv6:":
                ipaddress.IPv6Address(literal[5:])
            else:
                ipaddress.IPv4Address(literal)
        except ValueError:
            return "address literal"
        return None
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")  # a U-label: its A-label must be a valid label
        except UnicodeError:
            return "internationalised domain"
    if len(domain) > 253:
        return "domain over 253 characters"
    labels = domain.split(".")
    if not all(_LABEL.fullmatch(label) for label in labels):
        return "domain label syntax or length"
    return None


class UnreadableAddresses(ValueError):
    """An address header the RFC 5322 parser cannot read: its comments nest too deeply."""


# One item of a plain address list: `local@domain`, `<local@domain>` or `Display Name <local@domain>`, dot-atoms
# and atoms only, blanks and tabs around (no quotes, comments, dots in the name, groups or line breaks).
_PLAIN_ITEM = lazy(
    rf"[ \t]*(?:((?:{_ATEXT}+[ \t]+)*{_ATEXT}+)[ \t]*<({_ATEXT}+(?:\.{_ATEXT}+)*@{_ATEXT}+(?:\.{_ATEXT}+)*)>"
    rf"|<({_ATEXT}+(?:\.{_ATEXT}+)*@{_ATEXT}+(?:\.{_ATEXT}+)*)>|({_ATEXT}+(?:\.{_ATEXT}+)*@{_ATEXT}+(?:\.{_ATEXT}+)*))[ \t]*"
)
_BLANKS = lazy(r"[ \t]+")


def plain_address_pairs(values: list[str]) -> list[tuple[str, str]] | None:
    """`getaddresses(values)` for a plain address list (see _PLAIN_ITEM), read by one regex per item; else None.

    The stdlib's parser walks a header character by character in Python: ~70 µs
    for one `<a@b>` against ~8 here, and intake reads From and To of every
    message. For these forms its answer is the name's words joined by one
    space and the address as written (tests/core/test_plain_addresses.py
    compares the two over random header values and every helpdesk fixture).
    """
    joined = ", ".join(values)  # as getaddresses joins them
    if not joined:
        return []
    pairs = []
    for item in joined.split(","):  # a plain item has no comma: each piece must be one
        m = _PLAIN_ITEM.fullmatch(item)
        if m is None:
            return None
        name, named, bracketed, bare = m.groups()
        pairs.append(("", bracketed or bare) if name is None else (_BLANKS.sub(" ", name), named))
    return pairs


def address_pairs(values: list[str]) -> list[tuple[str, str]]:
    """(display name, address) pairs of address header values; UnreadableAddresses for pathological nesting.

    The stdlib's parser recurses once per nested comment: about 500 "(" raise
    RecursionError, which callers would take for a bug (intake answered 451,
    so the client retried the same message for ever). A plain list is read
    without it, to the same answer (plain_address_pairs).
    """
    plain = plain_address_pairs(values)
    if plain is not None:
        return plain
    from email.utils import getaddresses  # local: the commands that never read an address header skip email.utils

    try:
        return getaddresses(values)
    except RecursionError:
        raise UnreadableAddresses("an address header nests comments too deeply to be read") from None
