"""Who a reverse proxy may speak for: its addresses only, its user header and its word on TLS."""

from __future__ import annotations

import ipaddress

import pytest

from maild.web import proxy

NETS = (ipaddress.ip_network("10.0.0.0/30"), ipaddress.ip_network("::1/128"))


@pytest.mark.parametrize(("remote", "trusted"), [
    ("10.0.0.1", True), ("10.0.0.4", False), ("::1", True), ("fe80::1%eth0", False), ("", False), (None, False),
    ("not an address", False),
])
def test_only_the_configured_proxy_addresses_are_trusted(remote, trusted):
    assert proxy.from_proxy(remote, NETS) is trusted


def test_no_configured_network_trusts_nobody():
    assert proxy.from_proxy("127.0.0.1", ()) is False


def test_the_user_header_counts_only_from_the_proxy_and_when_configured():
    headers = {"X-Remote-User": "  alice "}
    assert proxy.proxy_user(headers, "X-Remote-User", trusted=True) == "alice"
    assert proxy.proxy_user(headers, "X-Remote-User", trusted=False) is None
    assert proxy.proxy_user(headers, "", trusted=True) is None
    assert proxy.proxy_user({"X-Remote-User": "  "}, "X-Remote-User", trusted=True) is None


@pytest.mark.parametrize(("value", "https"), [("https", True), ("HTTPS", True), ("https, http", True),
                                              ("http, https", False), ("", False)])
def test_forwarded_https_reads_the_first_hop(value, https):
    assert proxy.forwarded_https({"X-Forwarded-Proto": value}, trusted=True) is https
    assert proxy.forwarded_https({"X-Forwarded-Proto": value}, trusted=False) is False
