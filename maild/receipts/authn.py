"""Authentication of reports that carry no token: which domains vouch for a message (DKIM, trusted Authentication-Results).

A report without a token can only be matched by Message-ID plus a recipient
address, and every To and Cc recipient sees that Message-ID: on its own it
lets a stranger mark anyone read, bounced or complaining. Such a report is
applied only when a domain aligned with the recipient it speaks for
authenticated it: a DKIM signature maild verifies itself (dkimpy, DNS through
a replaceable resolver), or `dkim=pass` in an Authentication-Results header
whose authserv-id the operator trusts (the receipts mailbox's own MTA, which
must strip such headers from incoming mail, RFC 8601 section 5).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from maild.core.frozen import frozen
from maild.core.lazyre import lazy
from maild.reports.mimetree import parse_head

# dkimpy's dnsfunc: TXT record of a name (bytes) as bytes, or None; tests pass a table of their own.
Resolver = Callable[..., bytes | None]

MAX_SIGNATURES = 5  # a report with more DKIM signatures than this gets only the first ones checked


@frozen
class UntokenedPolicy:
    """What a report without a token needs before it is believed: the trusted authserv-ids, or the opt-out."""

    trusted_authserv_ids: tuple[str, ...] = ()
    allow_unauthenticated: bool = False  # the operator's explicit opt-out: Message-ID + address alone


def default_resolver() -> Resolver:
    """dkimpy's own DNS lookup, imported on the first key looked up: dnspython's import is most of a `maild ingest`
    start-up, and a report with no DKIM signature never needs it."""

    def lookup(name: bytes, timeout: float = 5) -> bytes | None:
        from dkim.dnsplug import get_txt  # type: ignore[import-untyped]

        return get_txt(name, timeout)  # type: ignore[no-any-return]

    return lookup


def table_resolver(records: dict[str, bytes]) -> Resolver:
    """A resolver answering from a table ({"sel._domainkey.example.net": b"v=DKIM1; k=rsa; p=..."}): for tests."""

    def lookup(name: bytes, timeout: float = 5) -> bytes | None:
        return records.get(name.decode("ascii", "replace").rstrip(".").lower())

    return lookup


def dkim_domains(raw: bytes, resolver: Resolver) -> set[str]:
    """The d= domains of the DKIM signatures on `raw` that verify; a malformed one simply does not count."""
    count = len(re.findall(rb"(?im)^dkim-signature\s*:", raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]))
    if not count:
        return set()
    import dkim  # type: ignore[import-untyped]  # only for a signed report: its import pulls in dnspython
    found: set[str] = set()
    try:
        verifier = dkim.DKIM(raw)
    except Exception:  # noqa: BLE001 - hostile input
        return found
    for idx in range(min(count, MAX_SIGNATURES)):
        try:
            if verifier.verify(idx=idx, dnsfunc=resolver) and verifier.domain:
                found.add(verifier.domain.decode("ascii", "replace").lower().rstrip("."))
        except Exception:  # noqa: BLE001 - DKIMException, DNS errors, hostile input: not authenticated
            continue
    return found


_COMMENT = lazy(r"\([^()]*\)")
_PROP = lazy(r"\bheader\.([di])\s*=\s*\"?([^\s;\"]+)", re.IGNORECASE)


def authentication_results_domains(values: Iterable[str], trusted: Iterable[str]) -> set[str]:
    """Domains with `dkim=pass` in the Authentication-Results headers whose authserv-id is trusted (RFC 8601)."""
    ids = {t.strip().lower() for t in trusted if t.strip()}
    found: set[str] = set()
    if not ids:
        return found
    for value in values:
        text = value
        for _ in range(3):  # nested comments, a few levels
            text = _COMMENT.sub(" ", text)
        parts = [p.strip() for p in text.split(";")]  # folding whitespace: split() and the \s of the patterns
        if not parts or not parts[0] or parts[0].split()[0].lower() not in ids:
            continue
        for resinfo in parts[1:]:
            m = re.match(r"dkim\s*=\s*(\w+)", resinfo, re.IGNORECASE)
            if m is None or m.group(1).lower() != "pass":
                continue
            for kind, val in _PROP.findall(resinfo):
                domain = val.rpartition("@")[2] if kind.lower() == "i" else val
                if domain:
                    found.add(domain.lower().rstrip("."))
    return found


def authenticated_domains(raw: bytes, policy: UntokenedPolicy, resolver: Resolver | None) -> frozenset[str]:
    """Every domain that vouches for `raw`: verified DKIM signatures plus trusted Authentication-Results."""
    # The report parser's own reading of the header block (the stdlib's BytesHeaderParser gives the same fields,
    # tests/reports/test_mimetree.py), not email.parser: its FeedParser import was ~3 ms of a `maild ingest` of a
    # report with no token, and the parser is loaded already.
    head = parse_head(raw)
    values = [str(v) for v in head.get_all("Authentication-Results", [])]
    domains = authentication_results_domains(values, policy.trusted_authserv_ids)
    if resolver is not None:
        domains |= dkim_domains(raw, resolver)
    return frozenset(domains)


def _ascii_domain(domain: str) -> str:
    domain = domain.strip().rstrip(".").lower()
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return domain


def aligned(authenticated: Iterable[str], address: str) -> str | None:
    """The authenticated domain that speaks for `address`: its own domain or a parent of it (never a bare TLD)."""
    target = _ascii_domain(address.rpartition("@")[2])
    if not target:
        return None
    for domain in authenticated:
        d = _ascii_domain(domain)
        if "." in d and (target == d or target.endswith("." + d)):
            return d
    return None
