"""A real SMTP server for tests and benchmarks: aiosmtpd with a handler that keeps what it got."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Sink:
    """Accepts everything but the addresses it is told to refuse; keeps what it got."""

    def __init__(self, refuse=()):
        self.refuse = set(refuse)
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.peers: set = set()
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
            self.peers.add(session.peer)
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]




@contextmanager
def running(handler) -> Iterator[str]:
    """An aiosmtpd server with ``handler`` on a free loopback port; yields its smtp:// URL."""
    from aiosmtpd.controller import Controller

    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{controller.port}"
    finally:
        controller.stop()
