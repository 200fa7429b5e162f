"""core.digest: the SHA-256 a command gets is the same digest whichever implementation makes it."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest

from maild.core import digest

SAMPLES = (b"", b"abc", bytes(range(256)) * 41, b"\r\n" * 70_000)


@pytest.mark.parametrize("data", SAMPLES, ids=lambda d: f"{len(d)}-bytes")
def test_the_built_in_sha256_gives_hashlibs_digest(data: bytes) -> None:
    assert digest._builtin is not None  # CPython's own SHA-256 is there on the Pythons maild supports
    built_in = digest._builtin()
    built_in.update(data[:100])
    built_in.update(data[100:])
    assert built_in.hexdigest() == hashlib.sha256(data).hexdigest()


def test_hashlib_is_used_once_much_has_been_hashed_or_when_already_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(digest, "_given", 0)
    monkeypatch.delitem(sys.modules, "hashlib")  # a command that has not imported it
    small = digest.sha256(1000)
    assert type(small) is type(digest._builtin())
    assert "hashlib" not in sys.modules
    big = digest.sha256(digest.OPENSSL_AFTER)
    assert type(big) is type(hashlib.sha256())  # past the threshold: OpenSSL's, and hashlib imported for it
    monkeypatch.setattr(digest, "_given", 0)
    assert type(digest.sha256(10)) is type(hashlib.sha256())  # hashlib already loaded: its own, faster one


def test_parse_does_not_load_openssl_for_one_report() -> None:
    probe = ("import sys; from maild.reports import parse;"
             " r = parse(b'Subject: x\\r\\nMessage-ID: <a@b>\\r\\n\\r\\nhello\\r\\n');"
             " print(len(r.fingerprint), '_hashlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["64", "False"]


@pytest.mark.parametrize("key_size", [0, 1, 32, 63, 64, 65, 200])
def test_hmac_sha256_is_hmacs_for_every_key_size(key_size: int, monkeypatch: pytest.MonkeyPatch) -> None:
    import hmac

    monkeypatch.delitem(sys.modules, "hashlib")  # as in `maild ingest`, which has not imported it: the built-in path
    key = bytes((7 * i + key_size) % 256 for i in range(key_size))
    for message in (b"", b"m", bytes(range(256)) * 3):
        ours = digest.hmac_sha256(key, message)
        assert "hashlib" not in sys.modules
        assert ours == hmac.new(key, message, hashlib.sha256).digest()
    assert digest.compare_digest(ours, bytes(ours)) and not digest.compare_digest(ours, bytes(32))


def test_ingest_checks_a_token_without_loading_openssl() -> None:
    probe = ("import sys; from maild.cli import ingest; from maild import tokens;"
             " keys = tokens.KeySet(signing='a', keys={'a': b'k' * 32});"
             " t = tokens.mint(keys, 42, nonce=bytes(3)); print(tokens.verify(keys, t), '_hashlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.split()[-1] == "False" and "recipient_id=42" in out
