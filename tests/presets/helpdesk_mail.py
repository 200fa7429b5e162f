"""Agent replies shaped as each helpdesk writes them, built from the facts in its source code (cited per product).

Each `Reply` carries what the product put in the mail (`ticket`, `department`,
`ids`): the values a test expects are those the product wrote, never what
maild's parser happens to return. No product's sample file is copied.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Reply:
    product: str  # the preset auto must pick
    raw: bytes
    ticket: str | None  # the number the helpdesk's agents see
    department: str  # the From address or the tag the preset reads
    ids: dict[str, str] = field(default_factory=dict)
    tracked: bool = True


def _mail(headers: list[tuple[str, str]], body: str = "Hello,\r\n\r\nthe answer.\r\n") -> bytes:
    return b"".join(f"{k}: {v}\r\n".encode() for k, v in headers) + b"\r\n" + body.encode()


TO = ("To", "Alice <alice@example.net>")


def rt(ticket: int = 1234, queue_tag: str = "") -> Reply:
    # lib/RT/Action/SendEmail.pm SetHeaders: X-RT-Loop-Prevention, X-RT-Ticket "<rtname> #<id>", X-Managed-by;
    # Interface/Email.pm AddSubjectTag "[<queue tag or rtname> #<id>] ", GenMessageId "<rt-VER-PID-TIME-RAND.T-S-N@ORG>".
    tag = queue_tag or "rt.example.com"
    raw = _mail([
        ("Subject", f"[{tag} #{ticket}] Re: printer broken"),
        ("From", '"Agent via RT" <support@rt.example.com>'),
        ("Reply-To", "support@rt.example.com"),
        TO,
        ("Message-ID", f"<rt-5.0.3-4242-1733050000-1597.{ticket}-7-0@example.com>"),
        ("References", f"<RT-Ticket-{ticket}@example.com>"),
        ("Precedence", "bulk"),
        ("X-RT-Loop-Prevention", "rt.example.com"),
        ("X-RT-Ticket", f"rt.example.com #{ticket}"),
        ("X-Managed-by", "RT 5.0.3 (http://www.bestpractical.com/rt/)"),
        ("X-RT-Originator", "agent@rt.example.com"),
    ])
    return Reply("rt", raw, str(ticket), queue_tag or "support@rt.example.com", {"rt_scrip": "7", "rtname": "rt.example.com"})


def rt_comment(ticket: int = 1234) -> Reply:
    # etc/initialdata "Admin Comment" template: Subject "[Comment] ...", tagged by AddSubjectTag, sent to AdminCcs.
    raw = _mail([
        ("Subject", f"[rt.example.com #{ticket}] [Comment] printer broken"),
        ("From", "support-comment@rt.example.com"),
        ("To", "boss@rt.example.com"),
        ("Message-ID", f"<rt-5.0.3-4242-1733050000-12.{ticket}-9-0@example.com>"),
        ("X-RT-Loop-Prevention", "rt.example.com"),
        ("X-RT-Ticket", f"rt.example.com #{ticket}"),
        ("X-Managed-by", "RT 5.0.3 (http://www.bestpractical.com/rt/)"),
    ])
    return Reply("rt", raw, str(ticket), "support-comment@rt.example.com", tracked=False)


def zammad(number: str = "31001", internal: int = 42) -> Reply:
    # app/models/channel/email_build.rb: X-Mailer "Zammad Mail Service", X-Powered-By; ticket/subject.rb: "<subject> [Ticket#<n>]"
    # (hook position right); adds_metadata_email.rb: Message-ID "<YYYYMMDDHHMMSS.<ticket id>.<12 digits>@fqdn>".
    raw = _mail([
        ("From", "Agent via Sales <sales@zammad.example.com>"),
        TO,
        ("Subject", f"RE: quote request [Ticket#{number}]"),
        ("Message-ID", f"<20261201101500.{internal}.481726354812@zammad.example.com>"),
        ("Organization", "Example"),
        ("X-Powered-By", "Zammad - Helpdesk/Support (https://zammad.org/)"),
        ("X-Mailer", "Zammad Mail Service"),
    ])
    return Reply("zammad", raw, number, "sales@zammad.example.com", {"zammad_ticket_id": str(internal)})


def zammad_notification() -> Reply:
    # email_build.rb: system notifications carry X-Loop: yes, Precedence: bulk, Auto-Submitted, X-Auto-Response-Suppress: All.
    raw = _mail([
        ("From", "Zammad <noreply@zammad.example.com>"),
        ("To", "agent@zammad.example.com"),
        ("Subject", "Updated Ticket [Ticket#31001]"),
        ("Message-ID", "<20261201101501.42.111111111111@zammad.example.com>"),
        ("X-Loop", "yes"),
        ("Precedence", "bulk"),
        ("Auto-Submitted", "auto-generated"),
        ("X-Auto-Response-Suppress", "All"),
        ("X-Mailer", "Zammad Mail Service"),
    ])
    return Reply("zammad", raw, "31001", "noreply@zammad.example.com", tracked=False)


def znuny(tn: str = "2026120110000017") -> Reply:
    # Kernel/System/Email.pm: X-Mailer "<Product> Mail Service (<ver>)", X-Powered-By "OTRS (https://otrs.com/)";
    # Ticket.pm TicketSubjectBuild "[Ticket#<TN>] <subject>" (Left); Message-ID "<epoch.rand@fqdn>".
    raw = _mail([
        ("From", '"Support" <support@znuny.example.com>'),
        TO,
        ("Subject", f"[Ticket#{tn}] RE: VPN access"),
        ("Message-ID", "<1733050000.123456.789@znuny.example.com>"),
        ("X-Mailer", "Znuny Mail Service (7.0.17)"),
        ("X-Powered-By", "OTRS (https://otrs.com/)"),
        ("Organization", "Example"),
    ])
    return Reply("znuny", raw, tn, "support@znuny.example.com")


def osticket(number: str = "482913") -> Reply:
    # include/class.mailer.php: X-Mailer "osTicket Mailer"; Message-ID "B<sysid6>-<rand>-<base64 VVVa + hmac>-..."
    # ticket.reply.yaml: "Re: %{ticket.subject} [#%{ticket.number}]".
    # pack('VVVa', user 7, thread entry 1501, thread 880, 'U' = ticket owner) + 5 bytes of HMAC, base64 without '='
    packed = (7).to_bytes(4, "little") + (1501).to_bytes(4, "little") + (880).to_bytes(4, "little") + b"U"
    tag = base64.b64encode(packed + b"\x01\x02\x03\x04\x05").decode().replace("=", "")
    raw = _mail([
        ("From", "IT Support <it@osticket.example.com>"),
        TO,
        ("Subject", f"Re: laptop [#{number}]"),
        ("Message-ID", f"<Bk3mX9p-a8Zq1-{tag}-it@osticket.example.com>"),
        ("X-Mailer", "osTicket Mailer"),
    ])
    return Reply("osticket", raw, number, "it@osticket.example.com",
                 {"osticket_tag": tag, "osticket_entry": "1501", "osticket_thread": "880", "osticket_user": "7"})


def osticket_notice() -> Reply:
    # class.mailer.php: notices get Auto-Submitted: auto-generated and X-Auto-Response-Suppress "OOF, AutoReply".
    raw = _mail([
        ("From", "IT Support <it@osticket.example.com>"),
        ("To", "agent@osticket.example.com"),
        ("Subject", "New Ticket Alert [#482913]"),
        ("Message-ID", "<Bk3mX9p-b1Zq2-AAAAAAAAAAAAAAAAAAAAAAAA-it@osticket.example.com>"),
        ("X-Mailer", "osTicket Mailer"),
        ("Auto-Submitted", "auto-generated"),
        ("X-Auto-Response-Suppress", "OOF, AutoReply"),
    ])
    return Reply("osticket", raw, "482913", "it@osticket.example.com", tracked=False)


def hesk(track: str = "QWE-RTY-UP23") -> Reply:
    # inc/email_functions.inc.php: X-Hesk-Tracking_ID header; language key new_reply_by_staff "[#%%TRACK_ID%%] New reply to: ...".
    raw = _mail([
        ("From", "Help <noreply@hesk.example.com>"),
        TO,
        ("Subject", f"[#{track}] New reply to: password reset"),
        ("Message-ID", "<5f2b1c0e9a7d3@hesk.example.com>"),
        ("X-Hesk-Tracking_ID", track),
    ])
    return Reply("hesk", raw, track, "noreply@hesk.example.com")


def glpi(ticket: int = 123, entity_tag: str = "GLPI") -> Reply:
    # src/NotificationTarget.php getMessageIdForEvent "GLPI_<uuid>-<Itemtype>-<id>/<event>.<time>.<rand>@<host>";
    # NotificationTargetCommonITILObject getSubjectPrefix "[<tag> #%07d] "; NotificationMailing: Auto-Submitted, X-Auto-Response-Suppress.
    raw = _mail([
        ("From", "GLPI <glpi@glpi.example.com>"),
        TO,
        ("Subject", f"[{entity_tag} #{ticket:07d}] New followup - printer"),
        ("Message-ID", f"<GLPI_8f4c2e1a-7b3d-4e5f-9a0b-1c2d3e4f5a6b-Ticket-{ticket}/add_followup.1733050000.123456@glpi.example.com>"),
        ("In-Reply-To", f"<GLPI_8f4c2e1a-7b3d-4e5f-9a0b-1c2d3e4f5a6b-Ticket-{ticket}/new@glpi.example.com>"),
        ("Auto-Submitted", "auto-generated"),
        ("X-Auto-Response-Suppress", "OOF, DR, NDR, RN, NRN"),
    ])
    dept = entity_tag if entity_tag != "GLPI" else "glpi@glpi.example.com"
    return Reply("glpi", raw, str(ticket), dept, {"itemtype": "Ticket", "items_id": str(ticket), "event": "add_followup"})


def freescout(conversation: int = 77, thread: int = 512) -> Reply:
    # app/Thread.php + Misc/Mail.php: Message-ID "reply-<thread>-<md5 16 hex>@<mailbox domain>"; SendReplyToCustomer.php
    # X-FreeScout-Mail-Type customer.message; reply_fancy.blade.php pixel ".../thread/read/<conversation>/<thread>?otr=1".
    html = (
        '<html><body><div>Hello</div>'
        f'<img src="https://desk.example.com/thread/read/{conversation}/{thread}?otr=1" width="1" height="1">'
        "</body></html>"
    )
    qp = html.replace("=", "=3D")
    qp = qp[:60] + "=\r\n" + qp[60:]  # quoted-printable soft line break inside the URL's neighbourhood
    body = (
        "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello\r\n"
        "--b1\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        f"{qp}\r\n--b1--\r\n"
    )
    raw = _mail([
        ("From", "Support <support@freescout.example.com>"),
        TO,
        ("Subject", "Re: shipping delay"),
        ("Message-ID", f"<reply-{thread}-0123456789abcdef@freescout.example.com>"),
        ("X-FreeScout-Mail-Type", "customer.message"),
        ("MIME-Version", "1.0"),
        ("Content-Type", 'multipart/alternative; boundary="b1"'),
    ], body)
    return Reply("freescout", raw, str(conversation), "support@freescout.example.com",
                 {"conversation": str(conversation), "thread": str(thread)})


def freescout_notification() -> Reply:
    # SendNotificationToUsers.php: X-FreeScout-Mail-Type user.notification (to agents).
    raw = _mail([
        ("From", "Support <support@freescout.example.com>"),
        ("To", "agent@freescout.example.com"),
        ("Subject", "[#77] shipping delay"),
        ("Message-ID", "<notify-512-1-0123456789abcdef@freescout.example.com>"),
        ("X-FreeScout-Mail-Type", "user.notification"),
    ])
    return Reply("freescout", raw, "77", "support@freescout.example.com", tracked=False)


def django_helpdesk(slug: str = "support", ticket: int = 12) -> Reply:
    # src/helpdesk/models.py: ticket.ticket "[<queue slug>-<id>]", subject "<ticket> <title> <template subject>"; From queue.from_address.
    raw = _mail([
        ("From", "support@dh.example.com"),
        TO,
        ("Subject", f"[{slug}-{ticket}] broken login (Follow-up)"),
        ("Message-ID", "<173305000012.4242.9876543210@dh.example.com>"),
    ])
    return Reply("django-helpdesk", raw, f"{slug}-{ticket}", slug)


def faveo(number: str = "AAAA-0000-0001") -> Reply:
    # TicketController.php: "<title>[#<ticket_number>]", body "---Reply above this line---"; number format "$$$$-####-####".
    raw = _mail([
        ("From", "Support <support@faveo.example.com>"),
        TO,
        ("Subject", f"Cannot print[#{number}]"),
        ("Message-ID", "<a81b2c3d4e5f@faveo.example.com>"),
    ], "---Reply above this line---\r\n\r\nHello\r\n")
    return Reply("faveo", raw, number, "support@faveo.example.com")


def freshdesk(ticket: int = 4567) -> Reply:
    # Freshdesk's documented subject "[#{{ticket.id}}]" (custom mail server).
    raw = _mail([
        ("From", "Acme Support <support@acme.example.com>"),
        TO,
        ("Subject", f"Re: [#{ticket}] refund"),
        ("Message-ID", "<4567.abc@acme.freshdesk.example.com>"),
    ])
    return Reply("generic", raw, str(ticket), "support@acme.example.com")


def itop(obj: int = 345) -> Reply:
    # core/action.class.inc.php: Message-ID "iTop_<Class>_<id>_<microtime>@<env>.openitop.org".
    raw = _mail([
        ("From", "itop@itop.example.com"),
        TO,
        ("Subject", "R-000345 updated"),
        ("Message-ID", f"<iTop_UserRequest_{obj}_0.12345600 1733050000@production.openitop.org>"),
    ])
    return Reply("itop", raw, str(obj), "itop@itop.example.com", {"class": "UserRequest"})


def chatwoot(display: int = 58) -> Reply:
    # conversation_reply_mailer(_helper).rb: Message-ID "<conversation/<uuid>/messages/<id>@domain>", "[#<display_id>]" subject.
    uuid = "3f2a9c1e-4b5d-4e6f-8a7b-9c0d1e2f3a4b"
    raw = _mail([
        ("From", "Acme <inbox@chatwoot.example.com>"),
        TO,
        ("Subject", f"[#{display}] New messages on this conversation"),
        ("Message-ID", f"<conversation/{uuid}/messages/991@chatwoot.example.com>"),
    ])
    return Reply("chatwoot", raw, str(display), "inbox@chatwoot.example.com",
                 {"conversation_uuid": uuid, "chatwoot_message": "991"})


ALL = [rt, rt_comment, zammad, zammad_notification, znuny, osticket, osticket_notice, hesk, glpi, freescout,
       freescout_notification, django_helpdesk, faveo, freshdesk, itop, chatwoot]
