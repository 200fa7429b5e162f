"""A tiny scripted IMAP server on 127.0.0.1 port 0, for faults a real Dovecot will not produce on demand."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field


@dataclass
class FakeImap:
    """One folder with the given messages (UIDs 1..n); no IDLE, so clients poll.

    drop_fetch: the first N FETCHes send half a literal and close the connection.
    capabilities: what the greeting and CAPABILITY advertise.
    """

    messages: dict[int, bytes]
    drop_fetch: int = 0
    capabilities: str = "IMAP4rev1 UIDPLUS MOVE"
    uidvalidity: int = 7
    connections: int = 0
    commands: list[str] = field(default_factory=list)
    moved: dict[int, str] = field(default_factory=dict)
    port: int = 0
    _server: asyncio.AbstractServer | None = None

    async def start(self) -> FakeImap:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            writer.write(f"* OK [CAPABILITY {self.capabilities}] fake ready\r\n".encode())
            while True:
                line = await reader.readline()
                if not line:
                    return
                tag, _, rest = line.decode().rstrip("\r\n").partition(" ")
                verb = rest.split(" ", 2)
                name = verb[0].upper()
                if name == "UID":
                    name = "UID " + verb[1].upper()
                self.commands.append(name)
                if not await self._answer(tag, name, rest, writer):
                    return
                await writer.drain()
        finally:
            writer.close()

    async def _answer(self, tag: str, name: str, rest: str, writer: asyncio.StreamWriter) -> bool:
        w = writer.write
        if name == "CAPABILITY":
            w(f"* CAPABILITY {self.capabilities}\r\n{tag} OK done\r\n".encode())
        elif name == "LOGIN":
            w(f"{tag} OK logged in\r\n".encode())
        elif name == "CREATE":
            w(f"{tag} NO [ALREADYEXISTS] Mailbox already exists\r\n".encode())
        elif name == "SELECT":
            w(f"* {len(self._present())} EXISTS\r\n* OK [UIDVALIDITY {self.uidvalidity}] ok\r\n{tag} OK [READ-WRITE] done\r\n".encode())
        elif name == "UID SEARCH":
            low = int(re.search(r"UID (\d+):\*", rest).group(1))
            found = [u for u in self._present() if u >= low] or self._present()[-1:]
            w(("* SEARCH" + "".join(f" {u}" for u in found) + f"\r\n{tag} OK done\r\n").encode())
        elif name == "UID FETCH":
            uids = _uid_set(rest.split(" ")[2])
            for seq, uid in enumerate(self._present(), 1):
                if uid not in uids:
                    continue
                raw = self.messages[uid]
                w(f"* {seq} FETCH (UID {uid} BODY[] {{{len(raw)}}}\r\n".encode())
                if self.drop_fetch > 0:
                    self.drop_fetch -= 1
                    w(raw[: len(raw) // 2])
                    await writer.drain()
                    return False  # connection closed in the middle of the FETCH
                w(raw + b")\r\n")
            w(f"{tag} OK done\r\n".encode())
        elif name in ("UID MOVE", "UID COPY"):
            parts = rest.split(" ")
            for uid in _uid_set(parts[2]):
                self.moved[uid] = parts[3].strip('"')
            w(f"{tag} OK done\r\n".encode())
        elif name == "LOGOUT":
            w(f"* BYE bye\r\n{tag} OK done\r\n".encode())
            return False
        else:
            w(f"{tag} OK done\r\n".encode())
        return True

    def _present(self) -> list[int]:
        return sorted(u for u in self.messages if u not in self.moved)


def _uid_set(text: str) -> set[int]:
    out: set[int] = set()
    for part in text.split(","):
        lo, _, hi = part.partition(":")
        out.update(range(int(lo), int(hi or lo) + 1))
    return out
