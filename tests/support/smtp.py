"""Real SMTP servers (aiosmtpd) that tests control: one that refuses, one that holds.

They run in the test's event loop on a free port, so a worker under test talks real
SMTP to them over TCP.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from urllib.parse import urlparse

import aiosmtplib
from aiosmtpd.smtp import SMTP

from tests.support.processes import free_port


@contextlib.asynccontextmanager
async def smtp_server(handler):
    port = free_port()
    server = await asyncio.get_running_loop().create_server(
        lambda: SMTP(handler, hostname="test-smtp"), "127.0.0.1", port
    )
    try:
        yield f"smtp://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


class Refusing:
    """Refuses a recipient with ``451`` (try again later) ``refusals[address]`` times
    (``None``: always); keeps what it accepted, with the time it was accepted."""

    def __init__(self) -> None:
        self.refusals: dict[str, int | None] = {}
        self.refused: Counter = Counter()
        self.accepted: list[tuple[str, float, bytes]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refusals:
            left = self.refusals[address]
            if left is None or left > 0:
                self.refused[address] += 1
                if left is not None:
                    self.refusals[address] = left - 1
                return "451 4.3.0 Mailbox temporarily unavailable, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        for rcpt in envelope.rcpt_tos:
            self.accepted.append((rcpt, time.time(), envelope.original_content or envelope.content))
        return "250 Message accepted for delivery"

    def delivered_to(self, address: str) -> int:
        return sum(1 for rcpt, _, _ in self.accepted if rcpt == address)


class HoldingRelay:
    """Relays every message to ``upstream`` (the real local SMTP server), but holds the
    conversation for ``hold`` at RCPT until ``release`` is set: a worker sending to it
    is provably in the middle of a send, with nothing delivered yet for that message."""

    def __init__(self, upstream: str, hold: str) -> None:
        url = urlparse(upstream)
        self.upstream = (url.hostname, url.port)
        self.hold = hold
        self.held = asyncio.Event()
        self.release = asyncio.Event()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == self.hold and not self.release.is_set():
            self.held.set()
            await self.release.wait()
            return "421 4.3.0 Closing"  # this session's client is gone anyway
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        await aiosmtplib.send(
            envelope.original_content or envelope.content,
            sender=envelope.mail_from,
            recipients=envelope.rcpt_tos,
            hostname=self.upstream[0],
            port=self.upstream[1],
            timeout=10,
        )
        return "250 Message accepted for delivery"
