"""A private Postfix playing the "upstream internet MTA" for end-to-end tests, delivering into a private Dovecot.

Modelled on /work/shared/reference/mailchain.sh, all on 127.0.0.1 with free ports:

* final destination for example.net (virtual(8), Maildirs owned by uid 5000 under the
  Dovecot's mail folder, ``example.net/USER/Maildir``); known users ``alice`` and ``bob``;
  ``nosuchuser@`` (any unknown user) accepted at RCPT, then bounced with a real failure DSN
  (5.1.1); ``rejectme@`` refused at RCPT with 550 5.1.1; ``slow@`` accepted, then deferred
  for ever (retry: transport) so a real "delayed" DSN comes after ``delay_warning``;
  NOTIFY=SUCCESS to a known user gives a real "delivered" DSN;
* every address at helpdesk.example.com (``receipts+TOKEN@``...) delivered into the Maildir
  of the Dovecot user returned as ``receipts``, so DSNs and MDNs to maild's VERP addresses
  land in its IMAP INBOX.

Reuses PrivatePostfix (tests/servers/postfix.py) for start/stop/logs; only the main.cf,
master.cf and maps differ. Use the pytest fixture ``postfix_upstream`` (module scope,
needs the session's ``dovecot`` fixture from tests/servers/fixtures.py), or:

    up = UpstreamPostfix.start_new(dovecot)   # raises RuntimeError when postfix cannot run here
    ...; up.close()
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.servers.dovecot import MAIL_GID, MAIL_UID, Dovecot, Mailbox
from tests.servers.dovecot import available as dovecot_available
from tests.servers.postfix import MASTER_BASE, PrivatePostfix, free_port, new_dir, postfix_available

DOMAIN = "example.net"
RECEIPTS_DOMAIN = "helpdesk.example.com"
USERS = ("alice", "bob")
UNKNOWN_RCPT = f"nosuchuser@{DOMAIN}"
REJECT_RCPT = f"rejectme@{DOMAIN}"
DEFER_RCPT = f"slow@{DOMAIN}"


@dataclass
class UpstreamPostfix(PrivatePostfix):
    """PrivatePostfix configured as example.net's MX and helpdesk.example.com's mailbox host."""

    mail_base: Path = Path("/nonexistent")  # virtual_mailbox_base: the Dovecot's mail folder
    receipts: Mailbox | None = None  # the Dovecot user receiving all of helpdesk.example.com
    delay_warning: str = "2s"
    users: tuple[str, ...] = USERS
    extra_main: dict[str, str] = field(default_factory=dict)

    @classmethod
    def start_new(cls, dovecot: Dovecot, *, delay_warning: str = "2s") -> UpstreamPostfix:
        why = postfix_available()
        if why:
            raise RuntimeError(why)
        receipts = dovecot.add_user()  # a fresh mailbox from the pool: no passwd-file reload wait
        up = cls(new_dir(), free_port(), mail_base=dovecot.dir / "mail", receipts=receipts, delay_warning=delay_warning)
        try:
            up.write()
            up.start()
        except BaseException:
            up.close()
            raise
        return up

    def maildir(self, user: str) -> Path:
        """Where Postfix delivers mail for USER@example.net."""
        return self.mail_base / DOMAIN / user / "Maildir"

    def write(self, default_transport: str = "error:5.7.1 upstream test MTA has no outbound delivery") -> None:
        assert self.receipts is not None
        for sub in ("etc", "spool", "data"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        shutil.chown(self.dir / "data", "postfix")
        for user in (*self.users, "postmaster"):
            md = self.maildir(user)
            for sub in ("cur", "new", "tmp"):
                (md / sub).mkdir(parents=True, exist_ok=True)
            for p in (md.parents[1], md.parent, md, *(md / s for s in ("cur", "new", "tmp"))):
                os.chown(p, MAIL_UID, MAIL_GID)
        etc = self.etc
        receipts_rel = self.receipts.maildir.relative_to(self.mail_base)
        main = f"""\
# private "upstream internet" MTA for maild's end-to-end tests, loopback only
compatibility_level = 3.6
queue_directory = {self.dir}/spool
data_directory = {self.dir}/data
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
maillog_file = {self.dir}/postfix.log
maillog_file_prefixes = {self.dir}
myhostname = mx.{DOMAIN}
mydomain = {DOMAIN}
myorigin = {DOMAIN}
mydestination =
relay_domains =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_banner = $myhostname ESMTP maild-test-upstream
biff = no
append_dot_mydomain = no
alias_maps =
alias_database =
smtp_dns_support_level = disabled
default_transport = {default_transport}
relay_transport = $default_transport
local_transport = $default_transport
transport_maps = texthash:{etc}/transport
virtual_mailbox_domains = {DOMAIN}, {RECEIPTS_DOMAIN}
virtual_mailbox_base = {self.mail_base}
virtual_mailbox_maps = texthash:{etc}/vmailbox
virtual_uid_maps = static:{MAIL_UID}
virtual_gid_maps = static:{MAIL_GID}
virtual_minimum_uid = 100
recipient_delimiter = +
smtpd_relay_restrictions = reject_unauth_destination
smtpd_recipient_restrictions = check_recipient_access texthash:{etc}/rcpt_access
smtpd_reject_unlisted_recipient = no
delay_warning_time = {self.delay_warning}
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
"""
        main += "".join(f"{k} = {v}\n" for k, v in self.extra_main.items())
        (etc / "main.cf").write_text(main)
        (etc / "master.cf").write_text(
            MASTER_BASE.format(listen=f"127.0.0.1:{self.port}")
            + "virtual   unix  - n n - - virtual\n"
        )
        vmailbox = [f"{u}@{DOMAIN} {DOMAIN}/{u}/Maildir/" for u in (*self.users, "postmaster")]
        vmailbox.append(f"@{RECEIPTS_DOMAIN} {receipts_rel}/")  # receipts+TOKEN@, bounces@, ... all of them
        (etc / "vmailbox").write_text("\n".join(vmailbox) + "\n")
        (etc / "rcpt_access").write_text(f"{REJECT_RCPT} 550 5.1.1 User unknown (test upstream)\n")
        (etc / "transport").write_text(f"{DEFER_RCPT} retry:4.4.1 simulated remote delay (test upstream)\n")

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def postfix_upstream(dovecot: Dovecot) -> Iterator[UpstreamPostfix]:
    """A private upstream Postfix delivering into the session's Dovecot; skipped when it cannot run, always stopped."""
    why = postfix_available() or dovecot_available()
    if why:
        pytest.skip(f"private Postfix upstream unavailable: {why}")
    up = UpstreamPostfix.start_new(dovecot)
    try:
        yield up
    finally:
        up.close()
