"""aioimaplib overrides, pinned to aioimaplib 2.0 (pyproject): a protocol that notes every `* N EXISTS` line.

aioimaplib drops an EXISTS it does not expect (outside IDLE); the IMAP source
needs to know of one so that mail that arrives between its last UID SEARCH and
IDLE is not left waiting for the next keepalive. This is the only module that
reaches into aioimaplib's private surface (`_handle_line`, `_client_task`,
`create_client`'s body); an aioimaplib upgrade is checked here first.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import Callable
from typing import Any

import aioimaplib

_EXISTS_LINE = re.compile(rb"^\* \d+ EXISTS\b", re.I)


class ExistsNotingProtocol(aioimaplib.IMAP4ClientProtocol):  # type: ignore[misc]  # aioimaplib is untyped
    """aioimaplib's protocol, telling the session about every `* N EXISTS` (aioimaplib drops those it does not expect)."""

    on_exists: Callable[[], None] | None = None

    def _handle_line(self, line: bytes, current_cmd: Any) -> Any:
        if self.on_exists is not None and _EXISTS_LINE.match(line):
            self.on_exists()
        return super()._handle_line(line, current_cmd)


class ImapClient(aioimaplib.IMAP4):  # type: ignore[misc]  # aioimaplib is untyped
    """aioimaplib.IMAP4 with `ExistsNotingProtocol` (same connection code as aioimaplib 2.0's create_client)."""

    def create_client(
        self, host: str, port: int, loop: asyncio.AbstractEventLoop | None,
        conn_lost_cb: Callable[[Exception | None], None] | None = None, ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        local_loop = loop if loop is not None else asyncio.get_running_loop()
        self.protocol = ExistsNotingProtocol(local_loop, conn_lost_cb)
        self._client_task = local_loop.create_task(
            local_loop.create_connection(lambda: self.protocol, host, port, ssl=ssl_context)
        )
