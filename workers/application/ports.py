"""What the job handlers need from the world around them, as shapes (``typing.Protocol``):
a mail sender, an SMS provider, the send-once records and the report file store. The
adapters implement them (``workers.adapters``); the handlers name only these, so they
never import an adapter. The shapes are the methods the handlers call today.

Failures keep their meaning across the boundary: ``PermanentError`` (``policy``) when
retrying cannot help, any other exception for a retry, ``Busy`` when another worker holds
the job's claim.
"""

from __future__ import annotations

from email.message import EmailMessage
from enum import Enum
from typing import Protocol

from shared.mongo import Database
from shared.worker_read_models import ReportFile


class Claim(Enum):
    CLAIMED = "claimed"  # ours: go ahead and send
    ALREADY_SENT = "sent"  # a previous delivery sent it: do nothing


class SendOnceStore(Protocol):
    """One record per job with a side effect (``workers.adapters.dedupe`` has the protocol)."""

    async def claim(self, job_id: str, kind: str) -> Claim:
        """Ours to send, or already sent; raises ``Busy`` while another worker holds it."""
        ...

    async def mark_sent(self, job_id: str) -> None: ...

    async def release(self, job_id: str) -> None:
        """Give the claim back (the send failed before the provider accepted it)."""
        ...


class MailSender(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class SmsProvider(Protocol):
    async def send(self, to: str, text: str, message_id: str) -> None: ...

    async def close(self) -> None: ...


class ReportFiles(Protocol):
    """Report files stored by generation: a reader follows the report's pointer, so it
    never sees a half-written file (``workers.adapters.report_store``, a module, is one)."""

    async def store_file(
        self, db: Database, report_id: str, fmt: str, generation: str, content: bytes
    ) -> ReportFile: ...

    async def discard(
        self, db: Database, report_id: str, *, generation: str | None = None, keep: str | None = None
    ) -> None:
        """Delete one generation's files, or every generation but ``keep``."""
        ...
