"""Email jobs end to end: OrderPlaced on Kafka → worker process → real SMTP server.

The worker runs as its own process (``merchant serve workers``); mail is read back
through the local SMTP server's Mailpit-compatible API.
"""

from __future__ import annotations

import asyncio
import signal
import uuid

import httpx
import pytest

from tests.support.smtp import HoldingRelay, smtp_server
from tests.support.workers import mail_to, order_placed, produce, queue_idle, wait_until, worker, worker_settings

pytestmark = pytest.mark.integration


async def test_confirmation_arrives_once_with_lines_and_totals_even_when_the_worker_is_killed(
    servers, server_env, settings, mongo_db, tmp_path
):
    run = uuid.uuid4().hex[:8]
    recipients = [f"buyer-{run}-{i}@example.com" for i in range(12)]
    events = [
        order_placed("m-email", to, lines=[("Blue mug", 1250, 2), ("Tea towel", 899, i + 1)])
        for i, to in enumerate(recipients)
    ]
    held = recipients[6]
    relay = HoldingRelay(servers.smtp_url, hold=held)
    async with smtp_server(relay) as relay_url:
        first = worker(server_env, tmp_path, "workers-1", SMTP_URL=relay_url)
        await asyncio.to_thread(lambda: first.start().wait_ready())
        try:
            await produce(settings, events)
            # The worker is now inside the SMTP conversation for one order: kill -9 it there.
            await asyncio.wait_for(relay.held.wait(), 60)
            await asyncio.to_thread(first.kill, signal.SIGKILL)
        finally:
            await asyncio.to_thread(first.kill, signal.SIGKILL)
        relay.release.set()

        second = worker(server_env, tmp_path, "workers-2", SMTP_URL=relay_url)
        await asyncio.to_thread(lambda: second.start().wait_ready())
        try:

            async def all_arrived():
                found = await mail_to(servers.mailbox_api, set(recipients))
                return found if all(found.values()) else None

            await wait_until(all_arrived, timeout=90, what="all 12 confirmations")
            ws = worker_settings(server_env)
            await wait_until(lambda: queue_idle(ws, mongo_db, ("email",)), timeout=60, what="email queue idle")
            found = await mail_to(servers.mailbox_api, set(recipients))
        finally:
            await asyncio.to_thread(second.stop)

    assert {to: len(msgs) for to, msgs in found.items()} == {to: 1 for to in recipients}
    # The held order was claimed by the killed worker and sent by the restarted one.
    claim = await mongo_db["job_runs"].find_one({"kind": "email", "state": "sent", "claims": {"$gte": 2}})
    assert claim is not None, "the job in flight at the kill was taken over after its lease"

    async with httpx.AsyncClient(base_url=servers.mailbox_api, timeout=5) as client:
        full = (await client.get(f"/api/v1/message/{found[recipients[2]][0]['ID']}")).json()
    order_id = events[2].aggregate_id
    assert full["Subject"] == f"Your order {order_id[:8].upper()} is confirmed"
    for body in (full["Text"], full["HTML"]):
        assert "Blue mug" in body and "BLUE-MUG" in body and "12.50 EUR" in body and "25.00 EUR" in body
        assert "Tea towel" in body and "8.99 EUR" in body and "26.97 EUR" in body  # 3 x 8.99
        assert "51.97 EUR" in body  # 25.00 + 26.97
    assert "2 x Blue mug" in full["Text"] and "3 x Tea towel" in full["Text"]
    assert "Items: 5" in full["Text"]


async def test_graceful_shutdown_hands_back_an_in_flight_job(servers, server_env, settings, mongo_db, tmp_path):
    """SIGTERM while a send is stuck: after the grace period the job is cancelled, its claim
    released and its offset left uncommitted, so the next worker sends it at once."""
    to = f"graceful-{uuid.uuid4().hex[:8]}@example.com"
    relay = HoldingRelay(servers.smtp_url, hold=to)
    event = order_placed("m-email", to)
    async with smtp_server(relay) as relay_url:
        first = worker(
            server_env,
            tmp_path,
            "workers-graceful-1",
            SMTP_URL=relay_url,
            WORKER_GRACEFUL_TIMEOUT_SECONDS="1",
            WORKER_CLAIM_LEASE_SECONDS="120",
            WORKER_EMAIL_TIMEOUT_SECONDS="60",  # the held send is still in its attempt at the SIGTERM
        )
        await asyncio.to_thread(lambda: first.start().wait_ready())
        await produce(settings, [event])
        await asyncio.wait_for(relay.held.wait(), 60)
        await asyncio.to_thread(first.stop)  # SIGTERM, waits for the exit
        assert first.process.returncode == 0, first.tail()
        relay.release.set()
        # Handed back: no claim is left behind (else the 120 s lease would hold the job).
        assert await mongo_db["job_runs"].count_documents({"state": "claimed", "kind": "email"}) == 0

        second = worker(server_env, tmp_path, "workers-graceful-2", SMTP_URL=relay_url)
        await asyncio.to_thread(lambda: second.start().wait_ready())
        try:

            async def arrived():
                return (await mail_to(servers.mailbox_api, {to}))[to]

            found = await wait_until(arrived, timeout=30, what="the handed-back email")
            await wait_until(
                lambda: queue_idle(worker_settings(server_env), mongo_db, ("email",)),
                timeout=30,
                what="email queue idle",
            )
            found = (await mail_to(servers.mailbox_api, {to}))[to]
        finally:
            await asyncio.to_thread(second.stop)
    assert len(found) == 1
