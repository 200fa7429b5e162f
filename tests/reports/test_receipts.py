"""Read receipts from each client family (fixtures in tests/data/receipts), and messages that must not pass for one."""

from __future__ import annotations

from pathlib import Path

import pytest

from maild.reports import ReportKind, parse

# file: (reader address, disposition)
RECEIPTS = {
    "thunderbird-displayed.eml": ("ann@example.net", "displayed"),
    "roundcube-displayed.eml": ("bob@example.net", "displayed"),
    "outlook-exchange-deleted.eml": ("juergen@example.de", "deleted"),
    "horde-denied.eml": ("carol@example.org", "denied"),
    "sogo-lenient-fields.eml": ("dan@example.com", "displayed"),
    "zimbra-bare-msgid.eml": ("erin@example.com", "displayed"),
    "evolution-empty-final.eml": ("fay@example.com", "displayed"),
    "kmail-processed-modifiers.eml": ("gus@example.com", "processed"),
    "dovecot-sieve-reject.eml": ("hank@example.com", "deleted"),
    "cyrus-sieve-reject-base64.eml": ("ivy@example.com", "deleted"),
    "openxchange-failed.eml": ("jo@example.com", "failed"),
    "squirrelmail-unclosed-mislabelled.eml": ("kim@example.com", "displayed"),
    "gmail-workspace-nested-signed.eml": ("lea@workspace.example.com", "displayed"),
    "outlook-read-en.eml": ("max@example.com", "displayed"),
    "outlook-notread-en.eml": ("max@example.com", "deleted"),
    "outlook-read-de-latin1.eml": ("nina@example.de", "displayed"),
    "outlook-read-fr-qp.eml": ("oscar@example.fr", "displayed"),
    "outlook-read-es.eml": ("pablo@example.es", "displayed"),
    "outlook-read-it.eml": ("quinto@example.it", "displayed"),
    "outlook-read-pt.eml": ("rui@example.pt", "displayed"),
    "outlook-notread-nl.eml": ("sanne@example.nl", "deleted"),
    "outlook-read-ja-iso2022.eml": ("taro@example.jp", "displayed"),
    "outlook-read-zh-gb2312.eml": ("wang@example.cn", "displayed"),
    "outlook-read-ru-koi8.eml": ("ivan@example.ru", "displayed"),
    "notes-return-receipt.eml": ("ulla@notes.example.com", "displayed"),
    "outlook-read-pl.eml": ("piotr@example.pl", "displayed"),
    "outlook-read-sv.eml": ("sven@example.se", "displayed"),
    "outlook-notread-sv.eml": ("sven@example.se", "deleted"),
    "outlook-read-da.eml": ("dorte@example.dk", "displayed"),
    "outlook-read-no.eml": ("ola@example.no", "displayed"),
    "outlook-notread-no.eml": ("ola@example.no", "deleted"),
    "outlook-read-fi.eml": ("aino@example.fi", "displayed"),
    "outlook-notread-fi.eml": ("aino@example.fi", "deleted"),
    "outlook-read-cs.eml": ("jana@example.cz", "displayed"),
    "outlook-notread-cs.eml": ("jana@example.cz", "deleted"),
    "outlook-read-tr.eml": ("ayse@example.com.tr", "displayed"),
    "outlook-notread-tr.eml": ("ayse@example.com.tr", "deleted"),
    "outlook-read-ko.eml": ("minji@example.kr", "displayed"),
    "outlook-read-hu.eml": ("zsofi@example.hu", "displayed"),
    "outlook-notread-hu.eml": ("zsofi@example.hu", "deleted"),
    "outlook-read-el.eml": ("eleni@example.gr", "displayed"),
    "outlook-html-read-de.eml": ("nina@example.de", "displayed"),
    "outlook-html-alternative-notread-fr.eml": ("oscar@example.fr", "deleted"),
}
NOT_REPORTS = ["negative-human-read-subject.eml", "negative-newsletter.eml", "negative-forwarded-dsn.eml", "negative-digest.eml"]
TOKEN = "mfrggzdfmztwq2lknnwg23tpobyxe43u"


def _parse(receipts_dir: Path, name: str):
    return parse((receipts_dir / name).read_bytes())


@pytest.mark.parametrize("name", sorted(RECEIPTS))
def test_receipt_is_an_mdn_for_the_reader(receipts_dir: Path, name: str) -> None:
    report = _parse(receipts_dir, name)
    assert report.kind is ReportKind.MDN
    assert [(r.address.lower(), r.disposition) for r in report.recipients] == [RECEIPTS[name]]


@pytest.mark.parametrize("name", sorted(RECEIPTS))
def test_receipt_names_the_original_message(receipts_dir: Path, name: str) -> None:
    expected = None if name.startswith("notes-") else "<reply-42@helpdesk.example.com>"
    assert _parse(receipts_dir, name).original_message_id == expected


@pytest.mark.parametrize("name", sorted(n for n in RECEIPTS if n.startswith(("thunderbird", "roundcube", "sogo", "horde"))))
def test_receipt_token_from_returned_disposition_notification_to(receipts_dir: Path, name: str) -> None:
    assert _parse(receipts_dir, name).token == TOKEN


@pytest.mark.parametrize(
    "name",
    sorted(
        n for n in RECEIPTS
        if not n.startswith(("outlook-read", "outlook-notread-", "outlook-html-", "notes")) and n != "outlook-exchange-deleted.eml"
    ),
)
def test_receipt_carries_its_reporting_user_agent(receipts_dir: Path, name: str) -> None:
    assert _parse(receipts_dir, name).reporting_ua


def test_exchange_mdn_without_reporting_ua_gives_none(receipts_dir: Path) -> None:
    assert _parse(receipts_dir, "outlook-exchange-deleted.eml").reporting_ua is None


def test_kmail_disposition_modifiers_are_kept(receipts_dir: Path) -> None:
    assert _parse(receipts_dir, "kmail-processed-modifiers.eml").recipients[0].disposition_modifiers == ("error", "warning")


def test_base64_disposition_part_is_noted(receipts_dir: Path) -> None:
    assert "disposition part base64" in _parse(receipts_dir, "cyrus-sieve-reject-base64.eml").problems


def test_unclosed_multipart_is_noted(receipts_dir: Path) -> None:
    assert "truncated multipart" in _parse(receipts_dir, "squirrelmail-unclosed-mislabelled.eml").problems


@pytest.mark.parametrize("name", NOT_REPORTS)
def test_negative_is_unknown_without_recipients(receipts_dir: Path, name: str) -> None:
    report = _parse(receipts_dir, name)
    assert (report.kind, report.recipients) == (ReportKind.UNKNOWN, ())


def test_receipts_never_carry_a_delivery_action(receipts_dir: Path) -> None:
    actions = {r.action for name in RECEIPTS for r in _parse(receipts_dir, name).recipients}
    assert actions == {None}
