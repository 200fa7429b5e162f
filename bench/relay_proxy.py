"""Benchmark contender: a minimal aiosmtpd -> aiosmtplib pass-through relay, no durability, no tracking.

Not maild code. Each incoming session keeps one aiosmtplib connection to the
sink and forwards synchronously (250 only after the sink's 250).
Modes: `once` forwards each message once to all its recipients; `per-recipient`
sends one copy per recipient, as maild does.
Usage: python bench/relay_proxy.py MODE PORT_FILE SINK_PORT
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from typing import Any

import aiosmtplib
from aiosmtpd.smtp import SMTP


class Forwarder:
    def __init__(self, mode: str, sink_port: int) -> None:
        self.mode = mode
        self.sink_port = sink_port

    async def _client(self, session: Any) -> aiosmtplib.SMTP:
        client = getattr(session, "upstream_client", None)
        if client is None or not client.is_connected:
            client = aiosmtplib.SMTP(hostname="127.0.0.1", port=self.sink_port, start_tls=False, use_tls=False)
            await client.connect()
            session.upstream_client = client
        return client

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        client = await self._client(session)
        data = envelope.original_content
        try:
            if self.mode == "once":
                await client.sendmail(envelope.mail_from, envelope.rcpt_tos, data)
            else:
                for rcpt in envelope.rcpt_tos:
                    await client.sendmail(envelope.mail_from, [rcpt], data)
        except aiosmtplib.SMTPException as exc:
            return f"451 4.3.0 upstream: {exc}"
        return "250 2.0.0 OK"


async def main(mode: str, port_file: str, sink_port: int) -> None:
    handler = Forwarder(mode, sink_port)
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = await loop.create_server(lambda: SMTP(handler, hostname="proxy"), sock=sock, backlog=512)
    with open(port_file + ".tmp", "w") as fh:  # noqa: ASYNC230 - a few bytes, once, before serving
        fh.write(str(sock.getsockname()[1]))
    os.rename(port_file + ".tmp", port_file)
    await server.serve_forever()


if __name__ == "__main__":
    import logging

    logging.getLogger("mail.log").setLevel(logging.WARNING)
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
