"""A tiny scripted IMAP server on 127.0.0.1 port 0, for faults a real Dovecot will not produce on demand.

It models one selected folder (INBOX) closely enough for maild's IMAP source:
UIDs, flags, COPY/MOVE/STORE/EXPUNGE/UID EXPUNGE with `* N EXPUNGE` answers,
IDLE (when "IDLE" is in `capabilities`) with `* N EXISTS` pushes, NOOP
reporting new messages, and, like a real server, one EXISTS announcement per
change per connection (once told, a connection is not told again).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class _Conn:
    writer: asyncio.StreamWriter
    told: int = 0  # the message count this connection was last told (SELECT, EXISTS, EXPUNGE answers)
    idle_tag: str | None = None  # set while the client idles
    frozen: bool = False  # reads on, never answers again (a half-open peer)


@dataclass
class FakeImap:
    """One folder with the given messages (UIDs as given); clients poll unless "IDLE" is advertised.

    drop_fetch: the first N FETCHes send half a literal and close the connection.
    capabilities: what the greeting and CAPABILITY advertise.
    flags: per UID, e.g. {3: {"\\\\Deleted"}} for a message someone else flagged.
    on_answer: called as on_answer(fake, command_name, rest) after each answer is written (scripted races).
    omit_fetch: per UID, how many more UID FETCH answers for message bytes leave that message out although it is there
        (-1: every one), as a server does for a message expunged meanwhile or an answer maild cannot read.
    FETCH items served: UID, RFC822.SIZE, BODY.PEEK[] and BODY.PEEK[]<0.N> (partial: `BODY[]<0> {n}`).
    """

    messages: dict[int, bytes]
    drop_fetch: int = 0
    capabilities: str = "IMAP4rev1 UIDPLUS MOVE"
    uidvalidity: int = 7
    connections: int = 0
    commands: list[str] = field(default_factory=list)  # command names, "UID STORE" style
    lines: list[str] = field(default_factory=list)  # full command lines (without tags)
    moved: dict[int, str] = field(default_factory=dict)  # UID -> folder it left INBOX for (MOVE, or COPY + expunge)
    copied: dict[int, str] = field(default_factory=dict)  # UID -> folder a UID COPY put a copy in
    flags: dict[int, set[str]] = field(default_factory=dict)
    expunged: list[int] = field(default_factory=list)  # UIDs removed by an EXPUNGE or UID EXPUNGE, in order
    idles: int = 0  # IDLE continuations sent
    on_answer: Callable[[FakeImap, str, str], None] | None = None
    omit_fetch: dict[int, int] = field(default_factory=dict)
    port: int = 0
    _server: asyncio.AbstractServer | None = None
    _conns: list[_Conn] = field(default_factory=list)

    async def start(self) -> FakeImap:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        for conn in self._conns:
            conn.writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    # ------------------------------------------------------------------ what tests drive

    def arrive(self, raw: bytes, *, notify: str = "idle", flags: set[str] | None = None) -> int:
        """A new message; returns its UID.

        notify="idle": idling connections get `* N EXISTS` now, the others at their next IDLE/NOOP (Dovecot).
        notify="now": every connection gets it now, unsolicited, even between commands.
        notify="never": nobody is told (a server that loses the notice; only a search finds it).
        """
        uid = max([*self.messages, *self.expunged, 0]) + 1
        self.messages[uid] = raw
        if flags:
            self.flags[uid] = set(flags)
        if notify == "never":
            for conn in self._conns:
                conn.told = len(self._present())
            return uid
        for conn in self._conns:
            if not conn.frozen and (notify == "now" or conn.idle_tag is not None):
                self._tell(conn)
        return uid

    def freeze(self) -> None:
        """Every open connection stops answering but stays open (a dropped peer behind a NAT, a hung server)."""
        for conn in self._conns:
            conn.frozen = True

    @property
    def idling(self) -> bool:
        return any(c.idle_tag is not None and not c.frozen for c in self._conns)

    # ------------------------------------------------------------------ protocol

    def _present(self) -> list[int]:
        return sorted(u for u in self.messages if u not in self.moved and u not in self.expunged)

    def _tell(self, conn: _Conn) -> None:
        count = len(self._present())
        if count > conn.told:
            conn.writer.write(f"* {count} EXISTS\r\n".encode())
        conn.told = count

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        conn = _Conn(writer)
        self._conns.append(conn)
        try:
            writer.write(f"* OK [CAPABILITY {self.capabilities}] fake ready\r\n".encode())
            while True:
                line = await reader.readline()
                if not line:
                    return
                text = line.decode().rstrip("\r\n")
                if conn.frozen:
                    continue
                if conn.idle_tag is not None:
                    if text.upper() == "DONE":
                        self.commands.append("DONE")
                        writer.write(f"{conn.idle_tag} OK Idle completed\r\n".encode())
                        conn.idle_tag = None
                        await writer.drain()
                    continue
                tag, _, rest = text.partition(" ")
                verb = rest.split(" ", 2)
                name = verb[0].upper()
                if name == "UID":
                    name = "UID " + verb[1].upper()
                self.commands.append(name)
                self.lines.append(rest)
                if not await self._answer(conn, tag, name, rest):
                    return
                if self.on_answer is not None:
                    self.on_answer(self, name, rest)
                await writer.drain()
        except ConnectionError:
            return
        finally:
            self._conns.remove(conn)
            writer.close()

    def _expunge(self, conn: _Conn, uids: list[int]) -> None:
        for uid in sorted(uids):
            seq = self._present().index(uid) + 1
            self.expunged.append(uid)
            if uid in self.copied:
                self.moved[uid] = self.copied[uid]
            conn.writer.write(f"* {seq} EXPUNGE\r\n".encode())
            conn.told -= 1

    async def _answer(self, conn: _Conn, tag: str, name: str, rest: str) -> bool:
        w = conn.writer.write
        caps = self.capabilities.upper().split()
        if name == "CAPABILITY":
            w(f"* CAPABILITY {self.capabilities}\r\n{tag} OK done\r\n".encode())
        elif name == "LOGIN":
            w(f"{tag} OK logged in\r\n".encode())
        elif name == "CREATE":
            w(f"{tag} NO [ALREADYEXISTS] Mailbox already exists\r\n".encode())
        elif name == "SELECT":
            conn.told = len(self._present())
            w(f"* {conn.told} EXISTS\r\n* OK [UIDVALIDITY {self.uidvalidity}] ok\r\n{tag} OK [READ-WRITE] done\r\n".encode())
        elif name == "NOOP":
            self._tell(conn)
            w(f"{tag} OK done\r\n".encode())
        elif name == "IDLE" and "IDLE" in caps:
            self.idles += 1
            conn.idle_tag = tag
            w(b"+ idling\r\n")
            self._tell(conn)  # like Dovecot: what arrived since the client was last told
        elif name == "UID SEARCH":
            open_range = re.search(r"UID (\d+):\*", rest)
            if open_range:
                low = int(open_range.group(1))
                found = [u for u in self._present() if u >= low] or self._present()[-1:]
            else:  # UID SEARCH UID set: the ones still there
                wanted = _uid_set(rest.split(" ")[3])
                found = [u for u in self._present() if u in wanted]
            w(("* SEARCH" + "".join(f" {u}" for u in found) + f"\r\n{tag} OK done\r\n").encode())
        elif name == "UID FETCH":
            uids = _uid_set(rest.split(" ")[2])
            items = rest.split(" ", 3)[3].upper()
            partial = re.search(r"BODY\.PEEK\[\]<0\.(\d+)>", items)
            for seq, uid in enumerate(self._present(), 1):
                if uid not in uids:
                    continue
                if "BODY" in items and self.omit_fetch.get(uid, 0):
                    self.omit_fetch[uid] -= 1
                    continue
                raw = self.messages[uid]
                if "BODY" not in items:
                    size = f" RFC822.SIZE {len(raw)}" if "RFC822.SIZE" in items else ""
                    w(f"* {seq} FETCH (UID {uid}{size})\r\n".encode())
                    continue
                if partial:
                    raw = raw[: int(partial.group(1))]
                    w(f"* {seq} FETCH (UID {uid} BODY[]<0> {{{len(raw)}}}\r\n".encode())
                else:
                    w(f"* {seq} FETCH (UID {uid} BODY[] {{{len(raw)}}}\r\n".encode())
                if self.drop_fetch > 0:
                    self.drop_fetch -= 1
                    w(raw[: len(raw) // 2])
                    await conn.writer.drain()
                    return False  # connection closed in the middle of the FETCH
                w(raw + b")\r\n")
            w(f"{tag} OK done\r\n".encode())
        elif name == "UID MOVE" and "MOVE" in caps:
            parts = rest.split(" ")
            uids = [u for u in _uid_set(parts[2]) if u in self._present()]
            for uid in uids:
                self.copied[uid] = parts[3].strip('"')
            self._expunge(conn, uids)
            w(f"{tag} OK done\r\n".encode())
        elif name == "UID COPY":
            parts = rest.split(" ")
            for uid in _uid_set(parts[2]):
                if uid in self._present():
                    self.copied[uid] = parts[3].strip('"')
            w(f"{tag} OK done\r\n".encode())
        elif name == "UID STORE":
            parts = rest.split(" ", 4)
            flags = set(parts[4].strip("()").split())
            for seq, uid in enumerate(self._present(), 1):
                if uid in _uid_set(parts[2]):
                    self.flags.setdefault(uid, set()).update(flags)
                    if not parts[3].upper().endswith(".SILENT"):
                        w(f"* {seq} FETCH (UID {uid} FLAGS ({' '.join(sorted(self.flags[uid]))}))\r\n".encode())
            w(f"{tag} OK done\r\n".encode())
        elif name == "UID EXPUNGE" and "UIDPLUS" in caps:
            wanted = _uid_set(rest.split(" ")[2])
            self._expunge(conn, [u for u in self._present() if u in wanted and "\\Deleted" in self.flags.get(u, ())])
            w(f"{tag} OK done\r\n".encode())
        elif name == "EXPUNGE":
            self._expunge(conn, [u for u in self._present() if "\\Deleted" in self.flags.get(u, ())])
            w(f"{tag} OK done\r\n".encode())
        elif name == "LOGOUT":
            w(f"* BYE bye\r\n{tag} OK done\r\n".encode())
            await conn.writer.drain()
            return False
        elif name in ("IDLE", "UID MOVE", "UID EXPUNGE"):  # not advertised
            w(f"{tag} BAD {name} not supported\r\n".encode())
        else:
            w(f"{tag} OK done\r\n".encode())
        return True


def _uid_set(text: str) -> set[int]:
    out: set[int] = set()
    for part in text.split(","):
        lo, _, hi = part.partition(":")
        out.update(range(int(lo), int(hi or lo) + 1))
    return out
