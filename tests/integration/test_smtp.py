"""SMTP delivery to the real local SMTP server, checked through its mailbox API."""

from __future__ import annotations

import asyncio
import uuid
from email.message import EmailMessage
from urllib.parse import urlparse

import aiosmtplib
import httpx
import pytest

pytestmark = pytest.mark.integration


async def test_a_sent_message_arrives(servers):
    smtp = urlparse(servers.smtp_url)
    subject = f"test {uuid.uuid4().hex}"
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "shop@example.com", "buyer@example.com", subject
    message.set_content("Thank you for your order.")
    await aiosmtplib.send(message, hostname=smtp.hostname, port=smtp.port)

    async with httpx.AsyncClient(base_url=servers.mailbox_api, timeout=5) as client:
        for _ in range(50):
            listed = (await client.get("/api/v1/messages")).json()["messages"]
            found = [m for m in listed if m["Subject"] == subject]
            if found:
                break
            await asyncio.sleep(0.1)
        assert found, "the message did not reach the mailbox"
        full = (await client.get(f"/api/v1/message/{found[0]['ID']}")).json()
    assert full["To"][0]["Address"] == "buyer@example.com"
    assert "Thank you for your order." in full["Text"]
