"""The notification socket never stalls the daemon: a reader that stopped reading costs dropped datagrams, not a hang."""

from __future__ import annotations

import socket

from maild.sdnotify import Notifier


def test_notify_to_a_full_socket_returns_instead_of_blocking(tmp_path):
    path = tmp_path / "notify.sock"
    reader = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    reader.bind(str(path))  # never read: its queue fills up
    try:
        notifier = Notifier(str(path))
        for _ in range(5000):  # far beyond what the kernel queues for one unread datagram socket
            notifier.notify("STATUS=" + "x" * 200)
        reader.settimeout(1)
        assert reader.recv(4096).startswith(b"STATUS=")  # the first ones did arrive
        notifier.close()
    finally:
        reader.close()
