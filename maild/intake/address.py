"""SMTP envelope address syntax (RFC 5321 section 4.1.2, RFC 6531): what intake accepts in MAIL FROM and RCPT TO.

Dot-atom or quoted-string local parts of at most 64 octets, host names of
LDH labels of 1 to 63 characters (255 in all) or address literals; no control
character anywhere; UTF-8 in the local part or the domain only when the
client asked for SMTPUTF8, and a non-UTF-8 byte never (it is refused here
with 553 rather than failing at the end of DATA).
"""

from __future__ import annotations

import ipaddress
import re

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_DOT_ATOM = re.compile(rf"{_ATEXT}+(?:\.{_ATEXT}+)*")
_UTF8_ATEXT = r"(?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]|[^\x00-\x7f])"
_DOT_ATOM_UTF8 = re.compile(rf"{_UTF8_ATEXT}+(?:\.{_UTF8_ATEXT}+)*")
_QUOTED = re.compile(r'"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*"')
_QUOTED_UTF8 = re.compile(r'"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|[^\x00-\x7f]|\\[\x20-\x7e])*"')
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


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
