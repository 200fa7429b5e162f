"""Adding the pixel: only text/html parts change, in their own encoding; DKIM-signed and HTML-less mail is untouched."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from maild.pixel.html import add_pixel, image_tag

URL = "https://track.example.com/maild/o/abc123.gif"


def crlf(msg: EmailMessage) -> bytes:
    return bytes(msg).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def alternative(cte: str | None) -> EmailMessage:
    """A reply as a helpdesk writes it: text and HTML alternatives, built by Python's email package."""
    m = EmailMessage()
    m["From"] = "agent@helpdesk.example.com"
    m["To"] = "alice@example.net"
    m["Subject"] = "[#1234] Your invoice"
    m.set_content("Hello Alice,\nyour invoice is attached.\n")
    kwargs = {"cte": cte} if cte else {}
    m.add_alternative("<html><body><p>Hello Alice, caf\u00e9 " + "x" * 90 + "</p></body></html>\n", subtype="html",
                      **kwargs)
    return m


@pytest.mark.parametrize("cte", [None, "quoted-printable", "base64", "8bit"])
def test_only_the_html_part_changes_and_keeps_its_encoding(cte) -> None:
    raw = crlf(alternative(cte))
    out = add_pixel(raw, URL)
    assert (out.added, out.skipped) == (1, None)
    before, after = message_from_bytes(raw, policy=policy.default), message_from_bytes(out.data, policy=policy.default)
    (text_b, html_b), (text_a, html_a) = before.iter_parts(), after.iter_parts()
    assert text_a.get_content() == text_b.get_content()
    assert html_a["Content-Transfer-Encoding"] == html_b["Content-Transfer-Encoding"]
    assert html_a.get_content() == html_b.get_content().replace("</body>", image_tag(URL).decode() + "</body>")
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert out.data.startswith(head)  # the header block, byte for byte
    text_part_end = raw.index(b"Content-Type: text/html")
    assert out.data[:text_part_end] == raw[:text_part_end]  # everything up to the HTML part, byte for byte


def test_a_dkim_signed_message_is_left_untouched() -> None:
    m = alternative(None)
    m["DKIM-Signature"] = "v=1; a=rsa-sha256; d=helpdesk.example.com; s=s1; h=from:to:subject; bh=x; b=y"
    raw = crlf(m)
    out = add_pixel(raw, URL)
    assert (out.data, out.added, out.skipped) == (raw, 0, "dkim_signed")


def test_plain_text_mail_is_left_untouched() -> None:
    m = EmailMessage()
    m["From"] = "agent@helpdesk.example.com"
    m.set_content("no html here\n")
    raw = crlf(m)
    assert add_pixel(raw, URL).data == raw


def test_a_single_html_body_without_a_body_tag_gets_the_image_at_its_end() -> None:
    raw = b"From: a@x\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>hi</p>\r\n"
    out = add_pixel(raw, URL)
    assert out.data == b"From: a@x\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>hi</p>" + image_tag(URL) + b"\r\n"


def test_utf16_html_and_broken_base64_are_left_alone() -> None:
    utf16 = b"From: a@x\r\nContent-Type: text/html; charset=utf-16\r\n\r\n" + "<p>x</p>".encode("utf-16")
    assert add_pixel(utf16, URL).data == utf16
    broken = b"From: a@x\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!\r\n"
    out = add_pixel(broken, URL)
    assert (out.data, out.skipped) == (broken, "not_mime")
