"""Delivery adds the pixel only for departments that switched it on (receipts on too), never to DKIM-signed mail."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage

from maild import departments, spool
from maild.core.events import RecipientKind
from maild.delivery import copies, jobs
from maild.pixel.html import image_tag
from maild.store import transaction
from tests.receipts.conftest import KEYS, T0

BASE = "https://track.example.com/maild"


def html_reply(extra: dict[str, str] | None = None) -> tuple[bytes, bytes]:
    m = EmailMessage()
    m["From"] = "agent@helpdesk.example.com"
    m["To"] = "alice@example.net"
    m["Subject"] = "[#1234] hello"
    m["Message-ID"] = "<m1@helpdesk.example.com>"
    for k, v in (extra or {}).items():
        m[k] = v
    m.set_content("Hello\n")
    m.add_alternative("<html><body><p>Hello</p></body></html>\n", subtype="html")
    raw = bytes(m).replace(b"\n", b"\r\n")
    head, body = raw.split(b"\r\n\r\n", 1)
    return head + b"\r\n\r\n", body


def spool_reply(db, department: str, extra: dict[str, str] | None = None) -> bytes:
    headers, body = html_reply(extra)
    sub = spool.Submission(
        queue_id=spool.new_queue_id(), sender="agent@helpdesk.example.com",
        recipients=(spool.SpoolRecipient("alice@example.net", RecipientKind.TO),), headers=headers, body=body,
        received_at=T0, ticket="1234", department=department, message_id="<m1@helpdesk.example.com>",
        subject="[#1234] hello",
    )
    transaction(db, lambda d: spool.enqueue(d, sub, KEYS))
    return body


def planned(db) -> list[copies.Copy]:
    due, messages = jobs.pick_due(db, T0 + timedelta(days=1), 100)
    return copies.plan(messages, due, return_path="receipts@helpdesk.example.com", delimiter="+", pixel_base_url=BASE)


def test_a_department_with_the_pixel_on_gets_the_image_with_the_recipients_token(db) -> None:
    spool_reply(db, "Sales")
    transaction(db, lambda d: departments.set_pixel(d, "sales", True, T0))
    (copy,) = planned(db)
    assert copy.token is not None
    assert image_tag(copies.pixel_url(BASE, copy.token)) in copy.data


def test_the_pixel_is_off_by_default(db) -> None:
    spool_reply(db, "Sales")
    (copy,) = planned(db)
    assert b"<img" not in copy.data


def test_receipts_off_means_no_pixel_either(db) -> None:
    spool_reply(db, "Legal")
    transaction(db, lambda d: departments.set_pixel(d, "Legal", True, T0))
    transaction(db, lambda d: departments.set_receipts(d, "Legal", False, T0))
    (copy,) = planned(db)
    assert b"<img" not in copy.data


def test_a_dkim_signed_message_is_sent_as_it_came(db) -> None:
    body = spool_reply(db, "Sales", {"DKIM-Signature": "v=1; a=rsa-sha256; d=helpdesk.example.com; s=s1; bh=x; b=y"})
    transaction(db, lambda d: departments.set_pixel(d, "Sales", True, T0))
    (copy,) = planned(db)
    assert copy.data.endswith(body) and b"<img" not in copy.data
