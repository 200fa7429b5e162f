"""The pure trust rules for token-less reports (maild.receipts.authn): which Authentication-Results a trusted
authserv-id vouches for, and which authenticated domain speaks for a recipient's address."""

from __future__ import annotations

import pytest

from maild.receipts.authn import aligned, authentication_results_domains

TRUSTED = ["mx.receipts.test"]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        # an untrusted header before a trusted one does not hide the trusted one
        (["other.test; dkim=pass header.d=untrusted.example", "mx.receipts.test; dkim=pass header.d=example.net"],
         {"example.net"}),
        # other methods before dkim in the same header
        (["mx.receipts.test; spf=pass smtp.mailfrom=example.org; dkim=pass header.d=example.net"], {"example.net"}),
        (["mx.receipts.test; DKIM=Pass header.D=Example.NET"], {"example.net"}),  # RFC 8601 is case-insensitive
        (["mx.receipts.test; dkim=pass header.d=example.net."], {"example.net"}),  # the root's dot
        (["mx.receipts.test; dkim=pass header.i=a@b@example.net"], {"example.net"}),  # the domain after the last @
        # folded right after the authserv-id, as a long header is folded on the wire
        (["mx.receipts.test\r\n 1; dkim=pass header.d=example.net"], {"example.net"}),
        (["mx.receipts.test\n 1;\n\tdkim=pass\r\n header.d=\n example.net"], {"example.net"}),
        (["mx.receipts.test"], set()),  # an authserv-id with no results
        (["", "; dkim=pass header.d=evil.example", "   "], set()),  # no authserv-id at all: nothing vouched
        (["mx.receipts.test; dkim=fail header.d=example.net; dkim=neutral header.d=example.org"], set()),
    ],
)
def test_authentication_results(values: list[str], expected: set[str]) -> None:
    assert authentication_results_domains(values, TRUSTED) == expected


@pytest.mark.parametrize(
    ("domains", "address", "expected"),
    [
        ({"example.net."}, "bob@example.net.", "example.net"),  # trailing dots on either side
        ({"EXAMPLE.BOX"}, "bob@example.box", "example.box"),  # case, and a name ending in the letter x
        ({"example.net"}, "a@b@example.net", "example.net"),  # the domain after the last @
        ({"b"}, "a@b@example.net", None),
    ],
)
def test_alignment_edges(domains: set[str], address: str, expected: str | None) -> None:
    assert aligned(domains, address) == expected
