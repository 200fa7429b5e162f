"""Benchmark contender: a private Postfix instance (own config and queue folders) relaying to the sink. Needs root.

Not maild code. Listens on a free 127.0.0.1 port; relayhost is the sink;
20 concurrent deliveries, like maild's delivery.concurrency. Postfix fsyncs
its queue files before 250, as maild does.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MASTER_CF = """{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def private_postfix(workdir: Path, sink_port: int) -> Iterator[int]:
    port = _free_port()
    etc, spool, data = workdir / "pf-etc", workdir / "pf-spool", workdir / "pf-data"
    workdir.chmod(0o755)  # TemporaryDirectory makes it 0700; Postfix's own user must reach its queue
    for d in (etc, spool, data):
        d.mkdir()
    shutil.chown(data, "postfix")
    (etc / "master.cf").write_text(MASTER_CF.format(port=port))
    (etc / "main.cf").write_text(
        f"""compatibility_level = 3.6
queue_directory = {spool}
data_directory = {data}
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = bench.localdomain
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
relayhost = [127.0.0.1]:{sink_port}
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
default_destination_concurrency_limit = 20
initial_destination_concurrency = 20
default_process_limit = 100
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
smtp_tls_security_level = none
smtpd_tls_security_level = none
maillog_file_prefixes = {workdir}
maillog_file = {workdir}/postfix.log
biff = no
"""
    )
    cmd = ["postfix", "-c", str(etc)]
    subprocess.run([*cmd, "set-permissions"], check=False, capture_output=True)
    subprocess.run([*cmd, "start"], check=True, capture_output=True)
    try:  # the caller waits for the greeting (bench/relay.py: wait_greeting)
        yield port
    finally:
        subprocess.run([*cmd, "stop"], check=False, capture_output=True)
        time.sleep(1)  # master exits asynchronously after stop; give its children a moment
