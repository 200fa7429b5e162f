"""The sections of maild.toml: one frozen dataclass per table, every setting declared once with its default and help."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from maild.config.declare import (
    Network,
    address,
    boolean,
    choice,
    duration,
    duration_map,
    hostport,
    http_url,
    integer,
    list_of,
    network,
    optional_path,
    path,
    preset_tables,
    regex,
    section,
    setting,
    size,
    source_url,
    string,
    string_map,
    upstream_url,
)
from maild.core.urls import Scheme, SourceUrl, UpstreamUrl, parse_upstream_url

TYPE_CHECKING = False  # not typing's: importing typing costs a command's start-up (maild.core.hints)
if TYPE_CHECKING:
    from typing import Any


@section
class StoreSettings:
    path: Path = setting("var/maild.db", "SQLite database file (WAL mode; created with its folder).", path)
    busy_timeout: float = setting("5s", "How long a reader or writer waits for a lock before giving up.", duration)


@section
class IntakeSettings:
    listen: tuple[tuple[str, int], ...] = setting(
        ["127.0.0.1:10025"], "SMTP listeners for the helpdesk's outgoing mail (HOST:PORT list).", list_of(hostport)
    )
    tls_listen: tuple[tuple[str, int], ...] = setting(
        [], "SMTP listeners with implicit TLS (SMTPS); needs tls_cert_file.", list_of(hostport)
    )
    allowed_networks: tuple[Network, ...] = setting(
        ["127.0.0.0/8", "::1/128"], "Clients from these networks may relay without authentication.", list_of(network)
    )
    allow_open_relay: bool = setting(
        False, "Accept allowed_networks wider than a /8 (such as 0.0.0.0/0): an open relay; refused unless true.", boolean
    )
    users_file: Path | None = setting(
        "", "File of 'user:scrypt-hash' lines for SMTP AUTH (see `maild hash-password`); empty: no AUTH.", optional_path
    )
    allowed_networks_auth: str = setting(
        "check",
        "SMTP AUTH from allowed_networks, offered there without TLS for helpdesk UIs that insist on a user and password: "
        "check (against users_file) or ignore (any credentials accepted; those networks may relay without them anyway).",
        choice("check", "ignore"),
    )
    tls_cert_file: Path | None = setting(
        "", "PEM certificate for STARTTLS and implicit TLS; without one no listener offers STARTTLS.", optional_path
    )
    tls_key_file: Path | None = setting("", "PEM private key for tls_cert_file.", optional_path, secret=True)
    hostname: str = setting("", "Name in the SMTP greeting; empty: the machine's name.", string)
    max_message_size: float = setting("35MB", "Largest message accepted (SIZE); larger ones get 552.", size)
    max_recipients: int = setting(1000, "Most recipients per message; more get 452.", integer(1))
    idle_timeout: float = setting("1m", "A session that sends no command for this long before MAIL FROM is closed.", duration)
    command_timeout: float = setting(
        "5m", "A session in a transaction (after MAIL FROM) that sends no command for this long is closed.", duration
    )
    data_timeout: float = setting("5m", "A session that sends no bytes for this long during DATA is closed.", duration)
    max_sessions: int = setting(100, "Most SMTP sessions at once; more get 421 4.7.0 (lowered to fit the descriptor limit).", integer(1))
    max_untrusted_sessions: int = setting(
        80, "Most sessions at once from clients outside allowed_networks together (the rest is kept for them).", integer(1)
    )
    max_sessions_per_client: int = setting(
        50, "Most sessions at once from one address outside allowed_networks; more get 421 4.7.0.", integer(1)
    )
    connection_rate_limit: int = setting(
        60, "Most new sessions per minute from one address outside allowed_networks (0: no limit).", integer(0)
    )
    listen_backlog: int = setting(2048, "Kernel queue of connections not yet accepted (capped by net.core.somaxconn).", integer(1))
    descriptor_reserve: int = setting(
        128, "File descriptors kept free of SMTP sessions for HTTP, the store and upstream connections.", integer(16)
    )
    data_memory_budget: float = setting(
        "128MB",
        "Message bytes all DATA transfers together may hold at once (each reserves its SIZE=, else 1 MiB steps as its "
        "bytes arrive); beyond it DATA waits up to data_memory_wait, then gets 452 4.3.1.",
        size,
    )
    data_memory_wait: float = setting(
        "30s", "How long a DATA that does not fit data_memory_budget waits for other transfers before 452 4.3.1.",
        duration,
    )
    max_header_size: float = setting("1MB", "Largest header section of a message; larger ones get 552 5.3.4.", size)
    max_header_lines: int = setting(2000, "Most header lines in a message; more get 552 5.3.4.", integer(1))
    auth_failure_delay: float = setting("1s", "A failed SMTP AUTH is answered after this pause (the session waits, nobody else).", duration)
    auth_failure_window: float = setting("10m", "The window in which AUTH failures are counted for the two limits below.", duration)
    max_auth_failures_per_client: int = setting(
        10, "AUTH failures from one address in auth_failure_window before every AUTH from it gets 454 4.7.0 (0: no limit).", integer(0)
    )
    max_auth_failures_per_user: int = setting(
        20, "AUTH failures for one user name in auth_failure_window before that name gets 454 4.7.0 (0: no limit).", integer(0)
    )


@section
class DeliverySettings:
    upstream: UpstreamUrl = setting(
        "maildir:var/outbox",
        "Where copies go: smtp://HOST:PORT, smtp+starttls://, smtps://, lmtp://, maildir:PATH.",
        upstream_url,
    )
    username: str = setting("", "User name for AUTH to the upstream; empty: no AUTH.", string)
    password_file: Path | None = setting("", "File holding the upstream AUTH password.", optional_path, secret=True)
    tls_ca_file: Path | None = setting(
        "", "CA bundle to verify the upstream's certificate; empty: the system CAs.", optional_path
    )
    helo_name: str = setting("", "Name given in EHLO to the upstream; empty: the machine's name.", string)
    concurrency: int = setting(20, "Most copies in flight to the upstream at once.", integer(1, 1000))
    connect_timeout: float = setting("30s", "Timeout to connect to the upstream.", duration)
    command_timeout: float = setting("5m", "Timeout for each SMTP command to the upstream.", duration)
    first_retry: float = setting("5m", "Delay before the first retry of a deferred copy.", duration)
    max_retry: float = setting("1h", "Retry delays double up to this.", duration)
    lifetime: float = setting("5d", "A copy not delivered after this long fails with reason 'expired'.", duration)
    request_dsn: bool = setting(True, "Ask the upstream for DSNs when it offers the DSN extension.", boolean)
    dsn_notify: str = setting("SUCCESS,FAILURE,DELAY", "NOTIFY= value of each RCPT when DSNs are requested.", string)
    dsn_ret: str = setting("HDRS", "RET= value of MAIL FROM when DSNs are requested.", choice("HDRS", "FULL"))
    poll_interval: float = setting("1s", "How often the scheduler looks for copies that came due.", duration)
    connection_idle_timeout: float = setting(
        "10s", "An idle upstream connection kept for reuse is closed after this.", duration
    )
    connection_max_messages: int = setting(1000, "Copies sent over one upstream connection before it is renewed.", integer(1))
    batch_size: int = setting(500, "Most due recipients picked from the spool per read.", integer(1, 100000))


@section
class TrackingSettings:
    return_path: str = setting(
        "receipts@helpdesk.example.com", "Receipts address; the token goes after the delimiter.", address
    )
    delimiter: str = setting("+", "Separator between the local part and the token (one character).", string)
    key_file: Path = setting(
        "var/token.key", "Token signing keys, one 'KEYID:HEXSECRET' per line, the first signs; created 0600 when missing.", path
    )
    ticket_header: str = setting("X-Ticket-ID", "Header carrying the ticket id.", string)
    department_header: str = setting("X-Department", "Header carrying the department name.", string)
    subject_pattern: re.Pattern[str] = setting(
        r"\[#(\d+)\]", "Regular expression finding the ticket id in the subject when no header has it.", regex
    )
    sender_departments: Mapping[str, str] = setting(
        {},
        "Table of From address or domain = department; a From address nothing maps is its own department.",
        string_map,
    )
    preset: str = setting(
        "auto",
        "Helpdesk preset: auto (recognise the product, else generic), generic (the header and subject rules above), "
        "a product (rt, zammad, freescout, osticket, znuny, hesk, glpi, itop, chatwoot, uvdesk, peppermint, helpy, "
        "faveo, django-helpdesk, freshdesk, zoho-desk, trudesk) or one of tracking.presets.",
        string,
    )
    presets: Mapping[str, Any] = setting(
        {}, "Operator-defined presets: [tracking.presets.NAME] tables of detect/ticket/ids/department/skip rules.", preset_tables
    )
    strip_headers: tuple[str, ...] = setting(
        [], "Further internal headers removed before relaying (the ticket and department headers always are).", list_of(string)
    )
    track_without_ticket: bool = setting(
        False, "Track mail that names no ticket too (otherwise it is relayed as is, one copy).", boolean
    )
    receipts_default: bool = setting(True, "Read receipts for departments with no explicit setting.", boolean)
    trusted_authserv_ids: tuple[str, ...] = setting(
        [],
        "Authentication-Results authserv-ids (the receipts mailbox's own MTA) whose dkim=pass vouches for a report "
        "without a token; that MTA must strip such headers from incoming mail.",
        list_of(string),
    )
    trust_untokened_reports: bool = setting(
        False,
        "Apply reports without a token on Message-ID + address alone, unauthenticated (anyone who sees a "
        "Message-ID can then forge receipts); warned at start. Off: such reports need an aligned DKIM signature.",
        boolean,
    )


@section
class ReceiptSource:
    url: SourceUrl = setting(
        "maildir:var/receipts",
        "Where receipts arrive: maildir:PATH, imap://USER@HOST:PORT/FOLDER, imaps://..., lmtp://HOST:PORT (listener).",
        source_url,
    )
    password_file: Path | None = setting("", "File holding the IMAP password.", optional_path, secret=True)
    starttls: bool = setting(False, "Require STARTTLS on imap:// (never falls back to plain text).", boolean)
    tls_ca_file: Path | None = setting("", "CA bundle for the IMAP server's certificate.", optional_path)
    processed_folder: str = setting("processed", "Folder receipts move to once their events are committed.", string)
    quarantine_folder: str = setting("quarantine", "Folder for what cannot be parsed, correlated or verified.", string)
    poll_interval: float = setting("60s", "Polling interval when the server has no IDLE (and Maildir scans).", duration)
    idle_renew: float = setting("25m", "IDLE is re-issued after this (RFC 2177 asks for under 29 minutes).", duration)
    batch_size: int = setting(200, "Most messages fetched per IMAP FETCH.", integer(1, 1000))
    command_timeout: float = setting("60s", "Hard timeout around every IMAP command.", duration)
    idle_keepalive: float = setting(
        "5m",
        "While idling, leave IDLE and check the IMAP connection this often, so a silently dead one is replaced "
        "within this plus command_timeout; 0: only at idle_renew.",
        duration,
    )
    quarantine_max_bytes: float = setting(
        "10MB",
        "Most raw bytes kept per quarantined receipt; a bigger one is kept cut (truncated = true) and still listed.",
        size,
    )


def next_hop_url(value: Any, base: Path) -> UpstreamUrl | None:
    """[[inbound]] next_hop: empty, lmtp://HOST:PORT or smtp://HOST:PORT."""
    text = string(value, base)
    if not text:
        return None
    url = parse_upstream_url(text, base)
    if url.scheme not in (Scheme.LMTP, Scheme.SMTP):
        raise ValueError('expected lmtp://HOST:PORT or smtp://HOST:PORT, such as "lmtp://127.0.0.1:24"')
    return url


@section
class InboundSource:
    """Where customers' answers arrive ([[inbound]]): read only, see maild/inbound/."""

    url: SourceUrl = setting(
        "maildir:var/inbound",
        "Where answers arrive: maildir:PATH, imap://USER@HOST:PORT/FOLDER, imaps://... (read only), "
        "lmtp://HOST:PORT (a hop in front of next_hop).",
        source_url,
    )
    password_file: Path | None = setting("", "File holding the IMAP password.", optional_path, secret=True)
    starttls: bool = setting(False, "Require STARTTLS on imap:// (never falls back to plain text).", boolean)
    tls_ca_file: Path | None = setting("", "CA bundle for the IMAP server's certificate.", optional_path)
    next_hop: UpstreamUrl | None = setting(
        "", "lmtp:// only: where every message is passed on, unchanged, before maild answers (lmtp:// or smtp://).",
        next_hop_url,
    )
    poll_interval: float = setting(
        "1s", "Maildir: rescan interval when inotify is unavailable; IMAP: polling interval without IDLE.", duration
    )
    idle_renew: float = setting("25m", "IDLE is re-issued after this (RFC 2177 asks for under 29 minutes).", duration)
    idle_keepalive: float = setting("5m", "While idling, check the IMAP connection this often; 0: only at idle_renew.", duration)
    command_timeout: float = setting("60s", "Hard timeout around every IMAP or next-hop command.", duration)
    batch_size: int = setting(
        100, "Most messages whose header fields are fetched (or files read) per batch (aioimaplib reads one big FETCH "
        "answer in quadratic time: 100 was 3x faster than 500 in bench/inbound.py).", integer(1, 5000)
    )


@section
class HttpSettings:
    listen: str = setting("127.0.0.1:8025", "HTTP API and /metrics listener (HOST:PORT); empty: off.", string)
    token_file: Path = setting(
        "var/api.token", "Bearer token for /v1/ (created 0600 with a random token when missing).", path, secret=False
    )


@section
class WebSettings:
    users_file: Path = setting(
        "var/web-users", "Panel users under /ui/, one 'name:role:scrypt-hash' per line (`maild users add`).", path
    )
    session_idle: float = setting("30m", "A panel session ends after this long without a request.", duration)
    embed_key_file: Path = setting(
        "var/embed.key", "HMAC key signing `maild embed-url` links (created 0600 with a random key when missing).", path
    )
    embed_frame_ancestors: tuple[str, ...] = setting(
        [], "Origins allowed to frame the embedded panel (CSP frame-ancestors), e.g. \"https://helpdesk.example.com\".",
        list_of(string),
    )
    live_interval: float = setting("2s", "How often the panel looks for new events for its open live pages.", duration)
    trusted_proxy_header: str = setting(
        "", "Single sign-on: the header in which a reverse proxy names the logged-in user (e.g. X-Remote-User), "
        "believed only from trusted_proxy_networks; the user must be in users_file, which gives its role. Empty: off.",
        string,
    )
    trusted_proxy_networks: tuple[Network, ...] = setting(
        [], "Addresses of the reverse proxy in front of the panel: only from these are trusted_proxy_header and "
        "X-Forwarded-Proto: https (Secure cookies behind a TLS-terminating proxy) believed.", list_of(network),
    )


@section
class LogSettings:
    level: str = setting("info", "Lowest level logged.", choice("debug", "info", "warning", "error"))
    format: str = setting(
        "auto", "json (one object per line), console (readable) or auto (console on a terminal).", choice("auto", "json", "console")
    )


def _optional_http_url(value: Any, base: Path) -> str:
    return "" if value == "" else http_url(value, base).rstrip("/")


def _pattern(value: Any, base: Path) -> re.Pattern[str]:
    try:
        return re.compile(string(value, base), re.I)
    except re.error as exc:
        raise ValueError(f"expected a regular expression ({exc})") from None


def _optional_hostport(value: Any, base: Path) -> tuple[str, int] | None:
    return None if value == "" else hostport(value, base)


@section
class PixelSettings:
    """The opt-in open pixel (per department: `maild departments pixel NAME on`); see maild/pixel/."""

    base_url: str = setting(
        "", "Public URL the image is served under (https://track.example.com/maild); empty: no image is added.",
        _optional_http_url,
    )
    listen: tuple[str, int] | None = setting(
        "", "HOST:PORT maild serves the image on (behind the proxy that base_url names); empty: off.", _optional_hostport
    )
    count_machine_opens: bool = setting(
        False, "Let machine opens (proxy prefetch, scanners) make a recipient read too; they are shown either way.",
        boolean,
    )
    machine_user_agents: tuple[re.Pattern[str], ...] = setting(
        [], "Further user-agent patterns (regular expressions, any case) whose fetches are machine opens.",
        list_of(_pattern),
    )
    machine_networks: tuple[Network, ...] = setting(
        [], "Further networks (CIDR) whose fetches are machine opens (a company's mail scanner).", list_of(network)
    )
    scanner_window: float = setting(
        "60s", "A fetch this soon after the upstream accepted the copy is a security scanner's.", duration
    )
    keep_client: bool = setting(
        False, "Store each open's IP address and user agent (off: only the classification is kept).", boolean
    )


@section
class ServiceSettings:
    stop_timeout: float = setting(
        "30s",
        "On SIGTERM: how long SMTP sessions in a transaction and copies in flight may take to finish before maild exits.",
        duration,
    )


EVENT_LOOPS = ("auto", "uvloop", "asyncio")


def _event_loop(value: Any, base: Path) -> str:
    name = string(value, base)
    if name not in EVENT_LOOPS:
        raise ValueError(f"expected one of {', '.join(EVENT_LOOPS)}, not {name!r}")
    if name == "uvloop":
        from importlib.util import find_spec  # local: only this choice asks, and it imports nothing

        if find_spec("uvloop") is None:
            raise ValueError("uvloop is not installed (pip install uvloop), or choose auto or asyncio")
    return name


@section
class DaemonSettings:
    event_loop: str = setting(
        "auto",
        "The daemon's event loop: auto (uvloop when it is installed, else asyncio's own), uvloop or asyncio.",
        _event_loop,
    )


@section
class WebhookSettings:
    urls: tuple[str, ...] = setting([], "URLs every new event and reply state change is POSTed to as JSON.", list_of(http_url))
    secret_file: Path = setting(
        "var/webhook.secret", "HMAC-SHA256 key signing each POST (created 0600 with a random key when missing).", path
    )
    timeout: float = setting("10s", "Timeout of one POST; a receiver slower than this is retried.", duration)
    first_retry: float = setting("5s", "Delay before the first retry after a failed POST.", duration)
    max_retry: float = setting("10m", "Retry delays double up to this; events wait in order, none is dropped.", duration)
    poll_interval: float = setting("1s", "How often the dispatcher looks for new events.", duration)
    batch_size: int = setting(100, "Most events read per look.", integer(1, 10000))


@section
class RetentionSettings:
    events: float = setting("0", "Delete events older than this (by their time); 0 keeps them for ever.", duration)
    kinds: Mapping[str, float] = setting(
        {}, 'Per event kind overrides of `events`, e.g. { displayed = "180d", queued = "30d" }; 0 keeps for ever.',
        duration_map,
    )
    interval: float = setting("1h", "How often the daemon enforces the retention.", duration)


WRITEBACK_STATES = ("delivered", "read", "declined", "deleted_unread", "bounced", "failed")


@section
class WritebackTarget:
    kind: str = setting(
        "rt", "rt (ticket custom field), zammad (internal note and/or tag), freescout (viewed indicator or note), "
        "glpi (private follow-up).", choice("rt", "zammad", "freescout", "glpi"),
    )
    name: str = setting("", "Name in logs, metrics and `maild writeback list`; empty: the kind.", string)
    url: str = setting("", "The helpdesk's base URL, e.g. http://127.0.0.1:8080 (RT), https://desk.example.com (others).", string)
    token_file: Path | None = setting(
        "", "File holding the API token (RT token, Zammad token, FreeScout API key, GLPI user token).", optional_path,
        secret=True,
    )
    app_token_file: Path | None = setting("", "GLPI only: file holding the App-Token.", optional_path, secret=True)
    mode: str = setting(
        "", "What to write: rt: field; zammad: note, tag or note+tag; freescout: indicator (no module) or note (API "
        "module); glpi: followup. Empty: the first.", string,
    )
    field: str = setting("maild", "RT: the ticket custom field (create it first) that holds the recipients' states.", string)
    user_id: int = setting(0, "FreeScout note: the user the note is written as.", integer(0))
    states: tuple[str, ...] = setting(
        list(WRITEBACK_STATES), "Recipient states written (delivered, read, declined, deleted_unread, bounced, failed).",
        list_of(choice(*WRITEBACK_STATES)),
    )
    departments: tuple[str, ...] = setting(
        [], "Only these departments (case-insensitive); empty: all. Read states never for departments with receipts off.",
        list_of(string),
    )
    timeout: float = setting("10s", "Timeout of one request to the helpdesk.", duration)
    first_retry: float = setting("10s", "Delay before the first retry after a failed write.", duration)
    max_retry: float = setting("15m", "Retry delays double up to this.", duration)
    poll_interval: float = setting("2s", "How often new events are looked at.", duration)

    @property
    def label(self) -> str:
        return self.name or self.kind


@section
class Settings:
    """A whole configuration: every table converted and checked, with the file it came from."""

    source: Path
    store: StoreSettings
    intake: IntakeSettings
    delivery: DeliverySettings
    tracking: TrackingSettings
    receipts: tuple[ReceiptSource, ...]
    http: HttpSettings
    web: WebSettings
    log: LogSettings
    webhooks: WebhookSettings
    retention: RetentionSettings
    service: ServiceSettings
    inbound: tuple[InboundSource, ...] = ()
    pixel: PixelSettings = PixelSettings(base_url="", listen=None, count_machine_opens=False, machine_user_agents=(),
                                         machine_networks=(), scanner_window=60.0, keep_client=False)
    writeback: tuple[WritebackTarget, ...] = ()
    daemon: DaemonSettings = DaemonSettings(event_loop="auto")

    @property
    def base_dir(self) -> Path:
        return self.source.parent


SECTIONS: dict[str, type] = {
    "store": StoreSettings,
    "intake": IntakeSettings,
    "delivery": DeliverySettings,
    "tracking": TrackingSettings,
    "http": HttpSettings,
    "web": WebSettings,
    "log": LogSettings,
    "webhooks": WebhookSettings,
    "retention": RetentionSettings,
    "service": ServiceSettings,
    "daemon": DaemonSettings,
    "pixel": PixelSettings,
}
LIST_SECTIONS: dict[str, type] = {"receipts": ReceiptSource, "inbound": InboundSource, "writeback": WritebackTarget}
DEFAULT_RECEIPTS: list[dict[str, Any]] = [{"url": "maildir:var/receipts"}]
