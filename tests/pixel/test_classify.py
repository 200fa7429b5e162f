"""Open classification: the machine fetchers the issue names, the operator's lists, and a person's mail client."""

from __future__ import annotations

import ipaddress
import re

import pytest

from maild.pixel.classify import OpenKind, Rules, classify

THUNDERBIRD = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.3.0"
# The user agent Gmail's image proxy sends, as Google documents it for senders.
GOOGLE = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
YAHOO = "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html"


@pytest.mark.parametrize(("ua", "client", "age", "kind", "label"), [
    (THUNDERBIRD, "17.58.100.7", 3600, OpenKind.MACHINE, "Apple's proxy"),  # Mail Privacy Protection prefetch
    (GOOGLE, "66.249.84.1", 3600, OpenKind.MACHINE, "Google's image proxy"),
    (YAHOO, "98.137.1.1", 3600, OpenKind.MACHINE, "Yahoo's image proxy"),
    ("Mozilla/5.0 (compatible; Barracuda Sentinel)", "203.0.113.5", 3600, OpenKind.MACHINE, "a scanner"),
    (THUNDERBIRD, "203.0.113.5", 4, OpenKind.MACHINE, "a scanner within 4 s of delivery"),
    ("", "203.0.113.5", 3600, OpenKind.MACHINE, "a client without a user agent"),
    (THUNDERBIRD, "203.0.113.5", 3600, OpenKind.HUMAN, "a mail client"),
    (THUNDERBIRD, "2001:db8::1", None, OpenKind.HUMAN, "a mail client"),  # delivery time unknown: no window
    (THUNDERBIRD, "not an address", 3600, OpenKind.HUMAN, "a mail client"),
])
def test_known_fetchers(ua, client, age, kind, label) -> None:
    v = classify(ua, client, age)
    assert (v.kind, v.label) == (kind, label)


def test_the_operators_lists_and_window() -> None:
    rules = Rules(user_agents=(re.compile("acmemailguard", re.I),), networks=(ipaddress.ip_network("10.20.0.0/16"),),
                  scanner_window=300)
    assert classify(THUNDERBIRD, "10.20.3.4", 3600, rules).label == "a listed network"
    assert classify("AcmeMailGuard/2", "203.0.113.5", 3600, rules).label == "a listed user agent"
    assert classify(THUNDERBIRD, "203.0.113.5", 200, rules).kind is OpenKind.MACHINE
    assert classify(THUNDERBIRD, "203.0.113.5", 400, rules).kind is OpenKind.HUMAN
