"""Known answers for the webhook wire format receivers depend on: the signature (README formula, computed without
maild's sign()), the X-Maild-Delivery id, and the body encoding. A failure here breaks every receiver already deployed."""

from __future__ import annotations

import hashlib
import hmac
import time

from maild.webhooks import WebhookPost, _body, sign, verify
from tests.support.readme import readme_verifier

BREAKS = "this breaks every webhook receiver already verifying maild's signatures (README formula)"

# (secret, timestamp, body, signature) computed with hashlib/hmac from the README's sentence:
# "v1=" + hex HMAC-SHA256(secret, X-Maild-Timestamp + "." + raw body).
VECTORS = [
    (b"k" * 32, 1700000000, b'{"a":1}', "v1=6935b796c0fec66e5dee52c86c7fd1218a424c32f1adb239ff2893c31e54f033"),
    (b"whsec-0123456789abcdef", 1733040000, '{"type":"event","x":"é"}'.encode(),
     "v1=2eeb6c902df4938ed4b4d5d3b19c037bcc1bc619edb77bda3b5ac421e6b66ed0"),
]


def independent(secret: bytes, timestamp: int, body: bytes) -> str:
    return "v1=" + hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def test_signature_vectors() -> None:
    for secret, ts, body, want in VECTORS:
        assert independent(secret, ts, body) == want  # the vector itself is the formula's
        assert sign(secret, ts, body) == want, BREAKS


def test_the_readme_receiver_accepts_maild_signatures_and_rejects_tampering() -> None:
    verified = readme_verifier()
    now = int(time.time())
    body = b'{"type":"event","event":{"id":1}}'
    headers = {"X-Maild-Timestamp": str(now), "X-Maild-Signature": sign(b"s" * 32, now, body)}
    assert verified(b"s" * 32, headers, body), BREAKS
    assert not verified(b"s" * 32, headers, body + b" ")
    assert not verified(b"t" * 32, headers, body)
    assert not verified(b"s" * 32, {**headers, "X-Maild-Timestamp": str(now + 1)}, body)


def test_the_separator_is_part_of_the_signed_text() -> None:
    # Without the "." timestamp 17 + body "00..." and timestamp 1 + body "700..." would sign alike.
    assert sign(b"k" * 32, 17, b"00") != sign(b"k" * 32, 1, b"700"), BREAKS
    assert sign(b"k" * 32, 17, b"00") == independent(b"k" * 32, 17, b"00"), BREAKS


def test_verify_is_what_the_readme_says() -> None:
    for secret, ts, body, want in VECTORS:
        assert verify(secret, str(ts), body, want)
        assert not verify(secret, str(ts), body, want.replace("v1=", "v2="))
        assert not verify(secret, "soon", body, want)


def test_delivery_id_is_event_id_dot_part() -> None:
    msg = "X-Maild-Delivery is EVENTID.PART (README); receivers deduplicate on it: this breaks their deduplication"
    assert WebhookPost(123, 0, b"").key == "123.0", msg
    assert WebhookPost(123, 1, b"").key == "123.1", msg
    assert WebhookPost(9, 0, b"").key != WebhookPost(90, 0, b"").key


def test_body_is_compact_sorted_utf8_json() -> None:
    # Receivers verify the raw bytes; any re-encoding would still parse but no longer match old captures.
    assert _body({"type": "event", "b": "é", "a": [1, 2]}) == '{"a":[1,2],"b":"é","type":"event"}'.encode()
