"""Benchmark sink: a fast SMTP server that accepts everything and counts recipients of completed transactions.

Not maild code: an asyncio.Protocol with PIPELINING, no parsing beyond what
counting needs. `XCOUNT` answers "250 RECIPIENTS TRANSACTIONS"; `XRESET` zeroes them.
Usage: python bench/relay_sink.py PORT_FILE   (binds 127.0.0.1 port 0, writes the port to PORT_FILE)
"""

from __future__ import annotations

import asyncio
import sys

COUNTS = {"rcpts": 0, "transactions": 0}


class Sink(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.t = transport  # type: ignore[assignment]
        self.buf = b""
        self.in_data = False
        self.rcpts = 0
        self.t.write(b"220 sink ESMTP\r\n")  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        out = []
        while True:
            if self.in_data:
                end = self.buf.find(b"\r\n.\r\n")
                if end < 0:
                    if len(self.buf) > 5:
                        self.buf = self.buf[-5:]  # keep a possible split terminator only
                    break
                self.buf = self.buf[end + 5 :]
                self.in_data = False
                COUNTS["rcpts"] += self.rcpts
                COUNTS["transactions"] += 1
                self.rcpts = 0
                out.append(b"250 2.0.0 Ok: queued\r\n")
                continue
            eol = self.buf.find(b"\r\n")
            if eol < 0:
                break
            line, self.buf = self.buf[:eol], self.buf[eol + 2 :]
            verb = line[:4].upper()
            if verb in (b"EHLO", b"LHLO"):
                out.append(b"250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE 100000000\r\n250 DSN\r\n")
            elif verb == b"HELO":
                out.append(b"250 sink\r\n")
            elif verb == b"MAIL":
                self.rcpts = 0
                out.append(b"250 2.1.0 Ok\r\n")
            elif verb == b"RCPT":
                self.rcpts += 1
                out.append(b"250 2.1.5 Ok\r\n")
            elif verb == b"DATA":
                self.in_data = True
                out.append(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                self.buf = b"\r\n" + self.buf  # so a message starting with "." + CRLF still matches the terminator
            elif verb == b"RSET":
                self.rcpts = 0
                out.append(b"250 2.0.0 Ok\r\n")
            elif verb == b"QUIT":
                out.append(b"221 2.0.0 Bye\r\n")
                self.t.write(b"".join(out))  # type: ignore[attr-defined]
                self.t.close()
                return
            elif verb == b"XCOU":
                out.append(f"250 {COUNTS['rcpts']} {COUNTS['transactions']}\r\n".encode())
            elif verb == b"XRES":
                COUNTS["rcpts"] = COUNTS["transactions"] = 0
                out.append(b"250 reset\r\n")
            else:
                out.append(b"250 Ok\r\n")
        if out:
            self.t.write(b"".join(out))  # type: ignore[attr-defined]


async def main(port_file: str) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Sink, "127.0.0.1", 0, backlog=512)
    port = server.sockets[0].getsockname()[1]
    with open(port_file + ".tmp", "w") as fh:  # noqa: ASYNC230 - a few bytes, once, before serving
        fh.write(str(port))
    import os

    os.rename(port_file + ".tmp", port_file)
    await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
