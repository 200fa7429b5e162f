"""High 2: a report without a token is applied only when an aligned domain authenticated it.

The attack reproduced: a stranger (mallory@evil.example) who saw the reply's
Message-ID as a Cc recipient sends token-less reports naming the other
recipients: an MDN marking the Cc and the Bcc recipient read, a DSN bouncing
one (final), an auto-reply and an abuse complaint in their name. Each was
applied before; each must now be quarantined as `untokened_unauthenticated`
unless DKIM (verified by maild with keys served by the test's own resolver,
nothing outside loopback) or a trusted Authentication-Results header vouches
for the recipient's domain.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import dkim
import pytest

from maild import config
from maild.receipts.authn import aligned, authentication_results_domains, table_resolver
from maild.receipts.ingest import Ingestor
from maild.receipts.quarantine import QuarantineReason
from maild.store import Store
from tests.receipts.conftest import KEYS, send, write_config
from tests.receipts.mail import dsn, mdn

MID = "<m1@helpdesk.example.com>"


@pytest.fixture(scope="module")
def keypair(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    """An RSA key made here by OpenSSL: the private PEM and the DNS TXT record of its public half."""
    where = tmp_path_factory.mktemp("dkim")
    private = where / "key.pem"
    subprocess.run(["openssl", "genrsa", "-traditional", "-out", str(private), "1024"], check=True, capture_output=True)
    der = subprocess.run(["openssl", "rsa", "-in", str(private), "-pubout", "-outform", "DER"], check=True, capture_output=True).stdout
    return private.read_bytes(), b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)


def signed(raw: bytes, domain: str, private: bytes, selector: str = "sel") -> bytes:
    header = dkim.sign(raw, selector.encode(), domain.encode(), private, include_headers=[b"from", b"subject", b"message-id", b"date"])
    return header + raw


def autoreply(sender: str) -> bytes:
    return (f"From: {sender}\r\nTo: agent@helpdesk.example.com\r\nSubject: Out of office: [#1234] hello\r\n"
            f"Auto-Submitted: auto-replied\r\nIn-Reply-To: {MID}\r\nMessage-ID: <ooo1@x.example>\r\n"
            "Date: Sun, 01 Mar 2026 12:40:00 +0000\r\n\r\nI am away until Monday.\r\n").encode()


def arf(complainant: str) -> bytes:
    return (
        "From: abuse@evil.example\r\nTo: agent@helpdesk.example.com\r\nSubject: complaint\r\nMessage-ID: <arf1@x.example>\r\n"
        "Date: Sun, 01 Mar 2026 12:40:00 +0000\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nThis is an abuse report.\r\n\r\n"
        "--B\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nUser-Agent: Gen/1.0\r\n"
        f"Version: 1\r\nOriginal-Rcpt-To: <{complainant}>\r\n\r\n"
        f"--B\r\nContent-Type: message/rfc822\r\n\r\nFrom: agent@helpdesk.example.com\r\nTo: {complainant}\r\n"
        f"Subject: [#1234] hello\r\nMessage-ID: {MID}\r\n\r\nhi\r\n\r\n--B--\r\n"
    ).encode()


def forged_mdn(recipient: str) -> bytes:
    return mdn(None, recipient, original_message_id=MID).replace(f"From: {recipient}".encode(), b"From: mallory@evil.example", 1)


def forged_dsn(recipient: str) -> bytes:
    return dsn(None, recipient, original_message_id=MID, mta="mx.evil.example")


@pytest.fixture
def world(tmp_path: Path, db_path: Path, db, keypair):  # type: ignore[no-untyped-def]
    sent = send(db, "alice@example.net", "bob@example.net", "carol@example.org", message_id=MID)
    records = {"sel._domainkey.example.net": keypair[1], "sel._domainkey.evil.example": keypair[1]}

    async def make(tracking: str = "") -> tuple[Ingestor, Store]:
        cfg = write_config(tmp_path, db_path)
        cfg.write_text(cfg.read_text().replace("[tracking]\n", "[tracking]\n" + tracking + "\n"))
        store = Store(db_path).open()
        opened.append(store)
        return Ingestor(config.load(cfg), store, KEYS, resolver=table_resolver(records)), store

    opened: list[Store] = []
    yield sent, make
    for s in opened:
        s.close()


def applied_events(db) -> list[tuple[int, str]]:  # type: ignore[no-untyped-def]
    return [tuple(r) for r in db.execute("SELECT recipient, kind FROM events WHERE kind != 'queued' ORDER BY id")]


FORGERIES = {
    "mdn_read_cc": lambda: forged_mdn("bob@example.net"),
    "mdn_read_bcc": lambda: forged_mdn("carol@example.org"),
    "dsn_bounce": lambda: forged_dsn("alice@example.net"),
    "autoreply": lambda: autoreply("bob@example.net"),
    "arf_complaint": lambda: arf("carol@example.org"),
}


@pytest.mark.parametrize("name", FORGERIES)
async def test_a_token_less_report_from_a_stranger_is_quarantined(world, db, name):  # type: ignore[no-untyped-def]
    _, make = world
    ingestor, _ = await make()
    out = await ingestor.ingest(FORGERIES[name](), "pipe", name)
    assert out.quarantine is QuarantineReason.UNTOKENED_UNAUTHENTICATED
    assert applied_events(db) == []


async def test_a_valid_signature_of_another_domain_does_not_vouch_for_the_recipient(world, db, keypair):  # type: ignore[no-untyped-def]
    _, make = world
    ingestor, _ = await make()
    raw = signed(forged_mdn("bob@example.net"), "evil.example", keypair[0])
    assert (await ingestor.ingest(raw, "pipe", "r")).quarantine is QuarantineReason.UNTOKENED_UNAUTHENTICATED


async def test_an_mdn_signed_by_the_recipients_domain_applies(world, db, keypair):  # type: ignore[no-untyped-def]
    sent, make = world
    ingestor, _ = await make()
    raw = signed(mdn(None, "bob@example.net", original_message_id=MID), "example.net", keypair[0])
    out = await ingestor.ingest(raw, "pipe", "r")
    assert out.quarantine is None and out.applied == 1
    assert applied_events(db) == [(sent.rid("bob@example.net"), "displayed")]


async def test_a_dsn_signed_by_the_reported_recipients_domain_applies(world, db, keypair):  # type: ignore[no-untyped-def]
    sent, make = world
    ingestor, _ = await make()
    raw = signed(dsn(None, "alice@example.net", original_message_id=MID), "example.net", keypair[0])
    out = await ingestor.ingest(raw, "pipe", "r")
    assert out.quarantine is None
    assert applied_events(db) == [(sent.rid("alice@example.net"), "bounced")]


async def test_a_signature_broken_by_an_altered_body_does_not_vouch(world, db, keypair):  # type: ignore[no-untyped-def]
    _, make = world
    ingestor, _ = await make()
    raw = signed(mdn(None, "bob@example.net", original_message_id=MID), "example.net", keypair[0])
    raw = raw.replace(b"Disposition: manual-action/MDN-sent-manually; displayed", b"Disposition: manual-action/MDN-sent-manually; deleted")
    assert (await ingestor.ingest(raw, "pipe", "r")).quarantine is QuarantineReason.UNTOKENED_UNAUTHENTICATED


async def test_a_signature_whose_key_is_not_in_dns_does_not_vouch(world, db, keypair):  # type: ignore[no-untyped-def]
    _, make = world
    ingestor, _ = await make()
    raw = signed(mdn(None, "bob@example.net", original_message_id=MID), "example.net", keypair[0], selector="gone")
    assert (await ingestor.ingest(raw, "pipe", "r")).quarantine is QuarantineReason.UNTOKENED_UNAUTHENTICATED


def with_ar(raw: bytes, authserv: str, domain: str) -> bytes:
    return f"Authentication-Results: {authserv}; dkim=pass (1024-bit key) header.d={domain} header.s=sel\r\n".encode() + raw


async def test_authentication_results_count_only_from_a_trusted_authserv_id(world, db):  # type: ignore[no-untyped-def]
    sent, make = world
    ingestor, _ = await make('trusted_authserv_ids = ["mx.receipts.test"]')
    untrusted = with_ar(forged_mdn("bob@example.net"), "mx.evil.example", "example.net")
    assert (await ingestor.ingest(untrusted, "pipe", "r1")).quarantine is QuarantineReason.UNTOKENED_UNAUTHENTICATED
    trusted = with_ar(mdn(None, "alice@example.net", original_message_id=MID), "mx.receipts.test", "example.net")
    assert (await ingestor.ingest(trusted, "pipe", "r2")).quarantine is None
    assert applied_events(db) == [(sent.rid("alice@example.net"), "displayed")]


async def test_the_explicit_opt_out_restores_message_id_matching(world, db):  # type: ignore[no-untyped-def]
    sent, make = world
    ingestor, _ = await make("trust_untokened_reports = true")
    assert (await ingestor.ingest(forged_mdn("bob@example.net"), "pipe", "r")).applied == 1


def test_an_admin_can_still_release_a_held_untokened_report(tmp_path, db_path, db):  # type: ignore[no-untyped-def]
    sent = send(db, "bob@example.net", message_id=MID)
    cfg = write_config(tmp_path, db_path)
    ingest = subprocess.run([sys.executable, "-m", "maild", "ingest", "--config", str(cfg), "-"],
                            input=mdn(None, "bob@example.net", original_message_id=MID), capture_output=True)
    assert ingest.returncode == 0, ingest.stderr
    assert applied_events(db) == []
    (item,) = [r[0] for r in db.execute("SELECT id FROM quarantine WHERE reason = 'untokened_unauthenticated'")]
    plain = subprocess.run([sys.executable, "-m", "maild", "quarantine", "retry", str(item), "--json", "--config", str(cfg)],
                           capture_output=True, text=True)
    assert json.loads(plain.stdout)["released"] is False
    forced = subprocess.run([sys.executable, "-m", "maild", "quarantine", "retry", str(item), "--accept-unauthenticated",
                             "--json", "--config", str(cfg)], capture_output=True, text=True)
    assert json.loads(forced.stdout)["released"] is True, forced.stderr
    assert applied_events(db) == [(sent.rid("bob@example.net"), "displayed")]


# ------------------------------------------------------------------ the pure rules


@pytest.mark.parametrize(
    ("domains", "address", "expected"),
    [
        ({"example.net"}, "bob@example.net", "example.net"),
        ({"example.net"}, "bob@mail.example.net", "example.net"),  # a parent domain speaks for its subdomains
        ({"mail.example.net"}, "bob@example.net", None),  # a subdomain does not speak for its parent
        ({"evil.example"}, "bob@example.net", None),
        ({"net"}, "bob@example.net", None),  # never a bare top-level domain
        ({"xn--bcher-kva.example"}, "bob@bücher.example", "xn--bcher-kva.example"),
        (set(), "bob@example.net", None),
    ],
)
def test_alignment(domains, address, expected):  # type: ignore[no-untyped-def]
    assert aligned(domains, address) == expected


def test_authentication_results_parsing():
    values = [
        "mx.receipts.test 1; (comment; with semicolon) dkim=pass header.i=@Example.NET header.s=x; spf=fail",
        "mx.receipts.test; dkim=fail header.d=failed.example",
        "other.test; dkim=pass header.d=untrusted.example",
    ]
    assert authentication_results_domains(values, ["mx.receipts.test"]) == {"example.net"}
    assert authentication_results_domains(values, []) == set()
