"""config/postfix/: each snippet passes `postfix check` in a private instance, and really routes mail.

The routing tests start that private Postfix (loopback only) with aiosmtpd sinks
standing in for maild's intake (SMTP) and receipts listener (LMTP).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.servers.postfix import SNIPPETS, PrivatePostfix, Sink, free_port, new_dir, postfix_available, snippet, wait_for

pytestmark = pytest.mark.skipif(postfix_available() is not None, reason=postfix_available() or "")

INTAKE, LMTP_PORT = 10025, 10024  # the ports the snippets document


@pytest.fixture
def instance() -> Iterator[PrivatePostfix]:
    pf = PrivatePostfix(new_dir(), free_port())
    try:
        yield pf
    finally:
        pf.stop()
        shutil.rmtree(pf.dir, ignore_errors=True)


@pytest.fixture
def maild_sink() -> Iterator[Sink]:
    sink = Sink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def internet_sink() -> Iterator[Sink]:
    sink = Sink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def lmtp_sink() -> Iterator[Sink]:
    sink = Sink(lmtp=True)
    sink.start()
    yield sink
    sink.stop()


def configure(pf: PrivatePostfix, main: list[str], maps: dict[str, str], master: list[str] = (), ports: dict[int, int] | None = None, **kw: str) -> None:
    ports = ports or {}
    pf.main_extra = "\n".join(snippet(n, pf.dir, ports) for n in main)
    pf.master_extra = "\n".join(snippet(n, pf.dir, ports) for n in master)
    pf.maps = {target: snippet(source, pf.dir, ports) for target, source in maps.items()}
    pf.write(**kw)


def assert_clean(pf: PrivatePostfix) -> None:
    check = pf.run("check")
    assert check.returncode == 0, check.stderr
    assert "warning" not in check.stderr, check.stderr
    postconf = pf.run("-n", tool="postconf")
    assert postconf.returncode == 0, postconf.stderr
    assert "warning" not in postconf.stderr, postconf.stderr  # e.g. "unused parameter" for a misspelt name


# ------------------------------------------------------------------ syntax: postfix check and postconf


@pytest.mark.parametrize(
    ("main", "maps", "master"),
    [
        (["main.cf.sender-transport"], {"maild_senders": "maild_senders"}, []),
        (["main.cf.relayhost"], {}, []),
        (["main.cf.receipts-lmtp"], {"maild_transport": "maild_transport", "maild_recipients": "maild_recipients"}, []),
        (
            ["main.cf.receipts-pipe"],
            {"maild_transport": "maild_transport.pipe", "maild_recipients": "maild_recipients"},
            ["master.cf.receipts-pipe"],
        ),
    ],
    ids=["sender-transport", "relayhost", "receipts-lmtp", "receipts-pipe"],
)
def test_snippet_passes_postfix_check(instance: PrivatePostfix, main: list[str], maps: dict[str, str], master: list[str]) -> None:
    configure(instance, main, maps, master)
    assert_clean(instance)


def test_a_misspelt_parameter_is_caught(instance: PrivatePostfix) -> None:
    instance.main_extra = "sender_dependant_default_transport_maps = texthash:/nonexistent\n"
    instance.write()
    assert "unused parameter" in instance.run("-n", tool="postconf").stderr


def test_pipe_transport_runs_maild_ingest_as_maild(instance: PrivatePostfix) -> None:
    configure(instance, [], {}, ["master.cf.receipts-pipe"])
    services = instance.run("-M", "maild/unix", tool="postconf").stdout
    assert "pipe flags=Rq user=maild argv=/opt/maild/.venv/bin/maild ingest --config /etc/maild/maild.toml -" in " ".join(services.split())


def test_every_snippet_file_is_covered() -> None:
    covered = {
        "main.cf.sender-transport", "maild_senders", "main.cf.relayhost", "main.cf.receipts-lmtp", "maild_transport",
        "maild_recipients", "main.cf.receipts-pipe", "maild_transport.pipe", "master.cf.receipts-pipe", "README.md",
    }
    assert {p.name for p in SNIPPETS.iterdir()} <= covered


# ------------------------------------------------------------------ routing through a running private Postfix


def test_sender_dependent_transport_sends_only_helpdesk_mail_to_maild(
    instance: PrivatePostfix, maild_sink: Sink, internet_sink: Sink
) -> None:
    configure(
        instance, ["main.cf.sender-transport"], {"maild_senders": "maild_senders"},
        ports={INTAKE: maild_sink.port}, default_transport=f"smtp:[127.0.0.1]:{internet_sink.port}",
    )
    instance.start()
    instance.send("support@helpdesk.example.com", ["alice@example.net"], "helpdesk-reply")
    instance.send("someone@elsewhere.example", ["bob@example.net"], "other-mail")
    instance.send("receipts+abc@helpdesk.example.com", ["carol@example.net"], "maild-copy")  # what maild reinjects
    wait_for(lambda: len(maild_sink.sink.got) + len(internet_sink.sink.got) == 3, 30, "three deliveries")
    assert [(g.mail_from, g.rcpt_tos) for g in maild_sink.sink.got] == [("support@helpdesk.example.com", ("alice@example.net",))]
    assert sorted(g.mail_from for g in internet_sink.sink.got) == ["receipts+abc@helpdesk.example.com", "someone@elsewhere.example"]


def test_receipts_with_any_token_go_to_maild_over_lmtp(instance: PrivatePostfix, lmtp_sink: Sink) -> None:
    configure(
        instance, ["main.cf.receipts-lmtp"], {"maild_transport": "maild_transport", "maild_recipients": "maild_recipients"},
        ports={LMTP_PORT: lmtp_sink.port},
    )
    instance.start()
    instance.send("MAILER-DAEMON@mx.example.net", ["receipts+tok3n@helpdesk.example.com"], "dsn-1")
    instance.send("alice@example.net", ["receipts+other@helpdesk.example.com"], "mdn-1")
    wait_for(lambda: len(lmtp_sink.sink.got) == 2, 30, "two LMTP deliveries")
    assert sorted(g.rcpt_tos for g in lmtp_sink.sink.got) == [
        ("receipts+other@helpdesk.example.com",), ("receipts+tok3n@helpdesk.example.com",)
    ]


def test_other_addresses_of_the_receipts_domain_are_refused(instance: PrivatePostfix, lmtp_sink: Sink) -> None:
    import smtplib

    configure(
        instance, ["main.cf.receipts-lmtp"], {"maild_transport": "maild_transport", "maild_recipients": "maild_recipients"},
        ports={LMTP_PORT: lmtp_sink.port},
    )
    instance.main_extra += "\nmynetworks = 192.0.2.0/24\n"  # the test client is "the internet", not a trusted network
    instance.write()
    instance.start()
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        instance.send("alice@example.net", ["nobody@helpdesk.example.com"], "x")
    assert next(iter(refused.value.recipients.values()))[0] == 550
