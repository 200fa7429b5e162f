"""Single sign-on behind a reverse proxy: the user it says is logged in, and whether it terminated TLS, believed only from its addresses."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping

from maild.config.declare import Network


def from_proxy(remote: str | None, networks: Iterable[Network]) -> bool:
    """The peer is one of the configured proxies (web.trusted_proxy_networks); never true when none is configured."""
    if not remote:
        return False
    try:
        address = ipaddress.ip_address(remote.split("%", 1)[0])
    except ValueError:
        return False
    return any(address in net for net in networks)


def proxy_user(headers: Mapping[str, str], header: str, trusted: bool) -> str | None:
    """The user name the proxy's header carries, stripped; None when off, untrusted, absent or empty."""
    if not header or not trusted:
        return None
    value = headers.get(header, "").strip()
    return value or None


def forwarded_https(headers: Mapping[str, str], trusted: bool) -> bool:
    """The proxy says the browser spoke HTTPS to it (X-Forwarded-Proto: https, first hop), so cookies are Secure."""
    if not trusted:
        return False
    proto = headers.get("X-Forwarded-Proto", "").split(",", 1)[0].strip().lower()
    return proto == "https"
