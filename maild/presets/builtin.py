"""The built-in presets, as data in the shape an operator writes in TOML; each fact comes from the product's source.

Evidence for every pattern is recorded in the project's helpdesk research
(subject tags, Message-ID forms, fingerprint headers per product). `AUTO_ORDER`
is the order "auto" tries fingerprints in: products with their own headers or
Message-ID form first, subject-only forms after, `generic` last.
"""

from __future__ import annotations

from collections.abc import Mapping

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)
if TYPE_CHECKING:
    from typing import Any

_AUTO_SUBMITTED = {"header": "Auto-Submitted", "pattern": r"(?i)^auto-"}
_X_LOOP = {"header": "X-Loop", "pattern": r"(?i)^yes\b"}

TABLES: dict[str, dict[str, Any]] = {
    # RT: X-RT-Ticket "<rtname> #<id>" (lib/RT/Action/SendEmail.pm SetHeaders), subject "[<queue tag or rtname> #<id>]"
    # (lib/RT/Interface/Email.pm AddSubjectTag), Message-ID "<rt-VER-PID-TIME-RAND.<ticket>-<scrip>-<n>@ORG>" (GenMessageId);
    # comments to AdminCcs use the "Admin Comment" template, whose subject starts "[Comment]" (etc/initialdata).
    "rt": {
        "detect": [{"header": "X-RT-Ticket"}, {"header": "X-Managed-by", "pattern": r"^RT \d"}],
        "ticket": [
            {"header": "X-RT-Ticket", "pattern": r"^(?P<rtname>.+?) #(?P<ticket>\d+)$", "value": "{ticket}"},
            {"subject": r"\[(?:https?://)?(?P<rtname>[^\]]+?)\s+#(?P<ticket>\d+)\]", "value": "{ticket}"},
        ],
        "ids": [{"message_id": r"^<rt-[^>@]*\.(?P<rt_ticket>\d+)-(?P<rt_scrip>\d+)-\d+@"}],
        "department": [{"subject": r"\[(?:https?://)?(?P<tag>[^\]]+?)\s+#\d+\]", "value": "{tag}"}],
        "department_unless_id": "rtname",
        "skip": [{"subject": r"\[Comment\]"}],
    },
    # HESK: X-Hesk-Tracking_ID and "[#<trackid>]" subjects (inc/email_functions.inc.php), ids from hesk_createID's alphabet.
    "hesk": {
        "detect": [{"header": "X-Hesk-Tracking_ID"}],
        "ticket": [
            {"header": "X-Hesk-Tracking_ID", "pattern": r"^([A-Z0-9]{3}-[A-Z0-9]{3}-[A-Z0-9]{4})$"},
            {"subject": r"\[#([A-Z0-9]{3}-[A-Z0-9]{3}-[A-Z0-9]{4})\]"},
        ],
    },
    # FreeScout: X-FreeScout-Mail-Type customer.message (agents' notices are user.notification), Message-ID
    # "reply-<thread>-<16 hex>@" (app/Thread.php), open-tracking pixel "/thread/read/<conversation>/<thread>" in the body.
    "freescout": {
        "detect": [{"header": "X-FreeScout-Mail-Type"}],
        "ticket": [
            {"body": r"/thread/read/(?P<conversation>\d+)/(?P<thread>\d+)", "value": "{conversation}"},
            {"subject": r"\[#(\d+)\]"},
        ],
        "ids": [{"message_id": r"^<?reply-(?P<thread>\d+)-[0-9a-f]{16}@"}],
        "skip": [{"header": "X-FreeScout-Mail-Type", "pattern": r"^(?!customer\.message$)"}],
    },
    # Zammad: X-Mailer "Zammad Mail Service" (app/models/channel/email_build.rb), subject "[Ticket#<number>]"
    # (app/models/ticket/subject.rb), Message-ID "<YYYYMMDDHHMMSS.<ticket id>.<rand>@fqdn>" (adds_metadata_email.rb);
    # system notifications carry X-Loop: yes and Auto-Submitted: auto-generated.
    "zammad": {
        "detect": [{"header": "X-Mailer", "pattern": r"^Zammad Mail Service"}, {"header": "X-Powered-By", "pattern": r"^Zammad"}],
        "ticket": [{"subject": r"\[Ticket#:?\s?(\d+)\]"}],
        "ids": [{"message_id": r"^<\d{14}\.(?P<zammad_ticket_id>\d+)\.\d+@"}],
        "skip": [_X_LOOP, _AUTO_SUBMITTED],
    },
    # osTicket: X-Mailer "osTicket Mailer", reply subject "... [#<number>]" (ticket.reply.yaml), Message-ID
    # "B<sysid>-<rand>-<tag>-..." with the packed user/entry/thread ids (include/class.mailer.php); notices are Auto-Submitted.
    "osticket": {
        "detect": [{"header": "X-Mailer", "pattern": r"^osTicket Mailer"}],
        "ticket": [{"subject": r"\[#([A-Za-z0-9-]+)\]"}],
        "ids": [{"message_id": r"^<?B[^-]{6}-[^-]+-(?P<osticket_tag>[A-Za-z0-9+/]{24})-", "decode": "osticket-tag"}],
        "skip": [_AUTO_SUBMITTED],
    },
    # Znuny/OTRS: X-Mailer "<Product> Mail Service (<ver>)", X-Powered-By OTRS (Kernel/System/Email.pm),
    # subject "[Ticket#<TN>]" (TicketSubjectBuild); loop mails carry X-Loop: yes.
    "znuny": {
        "detect": [
            {"header": "X-Mailer", "pattern": r"^(?:Znuny|OTRS)\b.*Mail Service"},
            {"header": "X-Powered-By", "pattern": r"^OTRS\b"},
        ],
        "ticket": [{"subject": r"\[Ticket#:?\s?(\d{8,})\]"}],
        "skip": [_X_LOOP, _AUTO_SUBMITTED],
    },
    # GLPI: Message-ID "GLPI_<uuid>-<Itemtype>-<id>/<event>..." (src/NotificationTarget.php), subject prefix
    # "[<entity tag or GLPI> #%07d]" (NotificationTargetCommonITILObject.php); every notification is Auto-Submitted,
    # replies to requesters included, so nothing is skipped on that header.
    "glpi": {
        "detect": [{"message_id": r"^<?GLPI_"}],
        "ticket": [
            {"message_id": r"^<?GLPI_.+-(?P<itemtype>[A-Za-z]+)-(?P<items_id>\d+)(?:/|\.|@)", "value": "{items_id}", "strip_zeros": True},
            {"subject": r"\[(?P<tag>[^\]#]+?) #(?P<id>\d+)\]", "value": "{id}", "strip_zeros": True},
        ],
        "ids": [{"message_id": r"^<?GLPI_.+-(?P<itemtype>[A-Za-z]+)-(?P<items_id>\d+)/(?P<event>\w+)"}],
        "department": [{"subject": r"\[(?P<tag>[^\]#]+?) #\d+\]", "value": "{tag}"}],
        "department_ignore": ["GLPI"],
    },
    # iTop: Message-ID "iTop_<Class>_<id>_<microtime>@<env>.openitop.org" (core/action.class.inc.php).
    "itop": {
        "detect": [{"message_id": r"^<?iTop_"}],
        "ticket": [{"message_id": r"^<?iTop_(?P<class>[A-Za-z]+)_(?P<id>\d+)_", "value": "{id}"}],
    },
    # Chatwoot: Message-ID "<conversation/<uuid>/messages/<id>@...>" (conversation_reply_mailer_helper.rb), "[#<display id>]".
    "chatwoot": {
        "detect": [{"message_id": r"^<conversation/"}],
        "ticket": [
            {"subject": r"\[#(\d+)\]"},
            {"message_id": r"^<conversation/(?P<conversation_uuid>[0-9a-f-]{36})/", "value": "{conversation_uuid}"},
        ],
        "ids": [{"message_id": r"^<conversation/(?P<conversation_uuid>[0-9a-f-]{36})/messages/(?P<chatwoot_message>\d+)@"}],
    },
    # Zoho Desk: "[##<number>##]" subjects.
    "zoho-desk": {"detect": [{"subject": r"\[##\d+##\]"}], "ticket": [{"subject": r"\[##(\d+)##\]"}]},
    # Faveo: "<title>[#<number>]", number format "$$$$-####-####" (TicketController.php, DatabaseSeeder.php).
    "faveo": {
        "detect": [{"subject": r"\[#[A-Za-z0-9]{4}-\d{4}-\d{4}\]"}],
        "ticket": [{"subject": r"\[#([A-Za-z0-9]+-\d{4}-\d{4})\]"}],
    },
    # django-helpdesk: "[<queue slug>-<id>] <title>" (src/helpdesk/models.py ticket_for_url); the slug names the queue.
    "django-helpdesk": {
        "detect": [{"subject": r"^(?:(?:Re|Fwd?|AW|SV):\s*)*\[[A-Za-z0-9_-]+-\d+\]"}],
        "ticket": [{"subject": r"\[(?P<slug>[A-Za-z0-9_-]+?)-(?P<id>\d+)\]", "value": "{slug}-{id}"}],
        "department": [{"subject": r"\[(?P<slug>[A-Za-z0-9_-]+?)-\d+\]", "value": "{slug}"}],
    },
    # Peppermint: "New comment on Issue #<title> ref: #<uuid>" (apps/api/src/lib/nodemailer/ticket/comment.ts).
    "peppermint": {
        "detect": [{"subject": r"^New comment on Issue #"}],
        "ticket": [{"subject": r"ref: #([0-9a-f-]{36})"}],
    },
    # Helpy: "[<site>] #<topic id>-<topic name>" (app/mailers/post_mailer.rb).
    "helpy": {"detect": [{"subject": r"\] #\d+-"}], "ticket": [{"subject": r"\] #(\d+)-"}]},
    # UVdesk: agent reply template "New Reply Added on ticket #<id>" (Templates/Email/Resources/Agent/TicketReply.php).
    "uvdesk": {"ticket": [{"subject": r"[Tt]icket #(\d+)"}]},
    # Trudesk: the subject is an admin template; "#{{ticket.uid}}" is the usual form.
    "trudesk": {"ticket": [{"subject": r"#(\d+)\b"}]},
    # Freshdesk (custom mail server): "[#<id>]" or "[#<prefix>-<id>]".
    "freshdesk": {"ticket": [{"subject": r"\[#(?:[A-Za-z0-9_]+-)?(\d+)\]"}]},
}

ALIASES = {"otrs": "znuny"}

AUTO_ORDER = (
    "rt", "hesk", "freescout", "zammad", "osticket", "znuny", "glpi", "itop", "chatwoot",
    "zoho-desk", "faveo", "django-helpdesk", "peppermint", "helpy",
)  # fmt: skip

GENERIC = "generic"
AUTO = "auto"


def known_names(custom: Mapping[str, object]) -> list[str]:
    """Every preset name a configuration may give: the built-in ones, their aliases, auto, generic and the operator's."""
    return sorted({AUTO, GENERIC, *TABLES, *ALIASES, *custom})


def check_name(name: str, custom: Mapping[str, object]) -> None:
    """Raise ValueError naming the choices when `name` is no preset (names only: the configuration checks it
    without compiling any preset's patterns)."""
    if name not in known_names(custom):
        raise ValueError(f"unknown preset {name!r} (known: {', '.join(known_names(custom))})")
