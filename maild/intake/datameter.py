"""The bytes of one DATA transfer counted against its memory holding: what to pass on, hold back, or discard.

Pure bookkeeping for a transfer whose client declared no SIZE= (the session
does the I/O): bytes within the holding go on to the SMTP reader at once;
bytes beyond it are held back (the session pauses reading and asks the budget
for another step); after a refusal everything up to the client's own end of
data (CRLF . CRLF) is dropped, so the 452 is sent only once the client has
finished, as RFC 5321 4.2.5 wants, and no byte of the body is read as a command.
"""

from __future__ import annotations

END_OF_DATA = b"\r\n.\r\n"
# What ends aiosmtpd's DATA loop whatever it has read so far: the CRLF closes a partial line, the dot ends the data.
CLOSE_DATA = b"\r\n.\r\n"


class DataMeter:
    """Counts one transfer's bytes; `held` is what its holding allows, `cap` the most it may ever ask for."""

    __slots__ = ("received", "cap", "pending", "discarding", "_tail")

    def __init__(self, cap: int) -> None:
        self.received = 0
        self.cap = cap
        self.pending: list[bytes] = []
        self.discarding = False
        self._tail = b"\r\n"  # the data starts at the beginning of a line: a first line "." ends it

    def take(self, data: bytes, held: int) -> bytes:
        """What of `data` may go on now; the rest is kept in `pending` (then `wants_more` is true)."""
        self.received += len(data)
        if self.pending or (self.received > held and held < self.cap):
            self.pending.append(data)
            return b""
        self._tail = (self._tail + data[-4:])[-4:]  # what a later refusal scans with: no copy of the chunk
        return data

    def wants_more(self, held: int) -> int:
        """How many more bytes the holding needs for what is pending (0: none): a step, or what is over, capped."""
        if not self.pending or held >= self.cap:
            return 0
        return max(0, min(self.cap, self.received) - held)

    def flush(self) -> bytes:
        """The pending bytes, to go on once the holding has grown."""
        data = b"".join(self.pending)
        self.pending.clear()
        self._tail = (self._tail + data[-4:])[-4:]  # what a later refusal scans with: no copy of the chunk
        return data

    def refuse(self) -> bytes | None:
        """From now on drop the transfer; the pending bytes are scanned like later ones (see `discard`)."""
        self.discarding = True
        data = b"".join(self.pending)
        self.pending.clear()
        return self.discard(data)

    def discard(self, data: bytes) -> bytes | None:
        """None while the client's end of data has not come; then what follows it (the next commands), maybe b""."""
        seen = self._tail + data
        end = seen.find(END_OF_DATA)
        if end < 0:
            self._tail = seen[-4:]
            return None
        self.discarding = False
        return seen[end + len(END_OF_DATA) :]
