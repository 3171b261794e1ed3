"""Sending over SMTP with aiosmtplib: one connection per message, bounded by a timeout.

SMTP says which failures are worth retrying: 4xx replies (greylisting, a full queue, a
server refusing for now) and network errors are temporary; a 5xx reply to every
recipient is permanent, so the job is dead-lettered at once instead of retried.
"""

from __future__ import annotations

from email.message import EmailMessage
from urllib.parse import unquote, urlparse

import aiosmtplib

from workers.application.policy import PermanentError


class SmtpSender:
    def __init__(self, smtp_url: str, timeout: float = 20.0) -> None:
        url = urlparse(smtp_url)
        self.hostname = url.hostname or "127.0.0.1"
        self.port = url.port or (465 if url.scheme == "smtps" else 25)
        self.use_tls = url.scheme == "smtps"
        self.username = unquote(url.username) if url.username else None
        self.password = unquote(url.password) if url.password else None
        self.timeout = timeout

    async def send(self, message: EmailMessage) -> None:
        smtp = aiosmtplib.SMTP(
            hostname=self.hostname,
            port=self.port,
            use_tls=self.use_tls,
            timeout=self.timeout,
            local_hostname="merchant-workers",
        )
        try:
            await smtp.connect()
            if self.username:
                await smtp.login(self.username, self.password or "")
            await smtp.send_message(message)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            if all(500 <= r.code < 600 for r in exc.recipients):
                raise PermanentError(f"recipients refused: {exc.recipients}") from exc
            raise
        except aiosmtplib.SMTPResponseException as exc:
            if 500 <= exc.code < 600 and exc.code != 554:  # 554 is often a transient block
                raise PermanentError(f"SMTP {exc.code}: {exc.message}") from exc
            raise
        finally:
            # No QUIT: the message is accepted at the reply to DATA, and a polite QUIT would
            # widen the window before the send is marked (and hang a cancelled send on a
            # server that does not answer). Closing the socket is enough.
            smtp.close()
