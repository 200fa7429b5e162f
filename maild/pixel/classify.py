"""Open classification: was an image fetch a person's mail client or a machine (proxy prefetch, security scanner)?

Pure: the fetch's user agent, address and age (seconds since the copy was
delivered) in, a `Verdict` out. Machine opens are Apple Mail Privacy
Protection's prefetch (Apple's own network 17.0.0.0/8; MPP fetches every
image of every message when it arrives, read or not), Google's and Yahoo's
image proxies (which fetch on behalf of a person but also prefetch, so the
fetch says nothing certain), security scanners that fetch within
`scanner_window` seconds of delivery, and whatever the operator lists
(user-agent patterns, networks). Everything else is `human`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class OpenKind(StrEnum):
    HUMAN = "human"
    MACHINE = "machine"


@dataclass(frozen=True, slots=True)
class Verdict:
    kind: OpenKind
    label: str  # for people: "Apple's proxy", "Google's image proxy", "a scanner within 5 s of delivery", "a mail client"


APPLE = (ipaddress.ip_network("17.0.0.0/8"),)  # Apple's own allocation, where Mail Privacy Protection fetches from
_KNOWN_UA = (
    (re.compile(r"GoogleImageProxy|ggpht\.com", re.I), "Google's image proxy"),
    (re.compile(r"YahooMailProxy", re.I), "Yahoo's image proxy"),
    (re.compile(r"bot\b|crawler|spider|scanner|python-requests|curl/|wget/|Barracuda|Mimecast|Proofpoint|"
                r"SafeLinks|urlscan|Microsoft Office Existence Discovery", re.I), "a scanner"),
)


@dataclass(frozen=True, slots=True)
class Rules:
    """The operator's part: [pixel] machine_user_agents, machine_networks, scanner_window."""

    user_agents: Sequence[re.Pattern[str]] = ()
    networks: Sequence[Network] = ()
    scanner_window: float = 60.0


def _address(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address((text or "").strip()) if text else None
    except ValueError:
        return None


def classify(user_agent: str | None, client: str | None, age: float | None, rules: Rules = Rules()) -> Verdict:
    """Machine or human, and why. `age`: seconds between delivery (the upstream's acceptance) and the fetch."""
    ua = user_agent or ""
    ip = _address(client)
    if ip is not None and any(ip in net for net in APPLE):
        return Verdict(OpenKind.MACHINE, "Apple's proxy")
    for pattern, label in _KNOWN_UA:
        if pattern.search(ua):
            return Verdict(OpenKind.MACHINE, label)
    if ip is not None and any(ip.version == net.version and ip in net for net in rules.networks):
        return Verdict(OpenKind.MACHINE, "a listed network")
    if any(p.search(ua) for p in rules.user_agents):
        return Verdict(OpenKind.MACHINE, "a listed user agent")
    if age is not None and 0 <= age < rules.scanner_window:
        return Verdict(OpenKind.MACHINE, f"a scanner within {int(age)} s of delivery")
    if not ua.strip():
        return Verdict(OpenKind.MACHINE, "a client without a user agent")
    return Verdict(OpenKind.HUMAN, "a mail client")
