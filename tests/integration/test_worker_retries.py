"""Delivery policy against a real SMTP server that refuses: retries with backoff that do
not hold the partition, dead letters with the attempt history, replay of dead letters."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid

import httpx
import orjson
import pytest
from aiokafka.partitioner import DefaultPartitioner

from tests.support.smtp import Refusing, smtp_server
from tests.support.workers import dead_letter, order_placed, produce, queue_idle, wait_until, worker, worker_settings
from workers.application.jobs import JOB_TOPIC_PARTITIONS, job_id_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def refusing(server_env, settings, tmp_path_factory):
    """A worker whose SMTP server is a ``Refusing`` one, for the whole module."""
    handler = Refusing()
    async with smtp_server(handler) as url:
        service = worker(server_env, tmp_path_factory.mktemp("retries"), "workers-retries", SMTP_URL=url)
        await asyncio.to_thread(lambda: service.start().wait_ready())
        handler.ops_url = service.url
        try:
            yield handler
        finally:
            await asyncio.to_thread(service.stop)


def partition_of(key: str) -> int:
    partitions = list(range(JOB_TOPIC_PARTITIONS))
    return DefaultPartitioner()(key.encode(), partitions, partitions)


def orders_on_one_partition(count: int) -> list[str]:
    """Order ids whose email jobs share one partition of ``jobs.email``."""
    first = str(uuid.uuid4())
    ids = [first]
    while len(ids) < count:
        candidate = str(uuid.uuid4())
        if partition_of(candidate) == partition_of(first):
            ids.append(candidate)
    return ids


async def test_refused_twice_is_delivered_on_the_third_attempt(refusing, settings):
    to = f"twice-{uuid.uuid4().hex[:8]}@example.com"
    refusing.refusals[to] = 2
    await produce(settings, [order_placed("m-retry", to)])

    async def delivered():
        return refusing.delivered_to(to)

    await wait_until(delivered, timeout=30, what="delivery after two refusals")
    await asyncio.sleep(1)  # a stray duplicate would arrive within the backoff window
    assert refusing.refused[to] == 2
    assert refusing.delivered_to(to) == 1


async def test_always_refused_is_dead_lettered_after_three_retries_while_the_partition_flows(
    refusing, settings, server_env, mongo_db
):
    order_ids = orders_on_one_partition(6)
    dead_to = f"dead-{uuid.uuid4().hex[:8]}@example.com"
    others = [f"other-{uuid.uuid4().hex[:8]}-{i}@example.com" for i in range(5)]
    refusing.refusals[dead_to] = None
    events = [order_placed("m-retry", dead_to, order_id=order_ids[0])]
    events += [order_placed("m-retry", to, order_id=oid) for to, oid in zip(others, order_ids[1:], strict=True)]
    await produce(settings, events)  # the doomed one first, the others behind it, same partition

    dead, dead_at = await dead_letter(settings, "email", job_id_for(events[0].event_id, "email.order_confirmation"))
    assert [a.attempt for a in dead.history] == [1, 2, 3, 4]  # the first try and exactly 3 retries
    assert all("451" in a.error for a in dead.history)
    assert "451" in dead.dead_reason and dead.attempt == 4
    assert refusing.refused[dead_to] == 4 and refusing.delivered_to(dead_to) == 0
    # The others were not held behind the retries: all delivered before it was declared dead.
    delivered_at = {rcpt: at for rcpt, at, _ in refusing.accepted}
    assert all(delivered_at[to] < dead_at for to in others), (delivered_at, dead_at)

    # Operations see it, and `merchant jobs replay-dlq email` re-queues it once fixed.
    ws = worker_settings(server_env)
    status = await _cli(server_env, "status", "--json")
    assert orjson.loads(status)["email"]["dead_letters"] >= 1
    async with httpx.AsyncClient(base_url=refusing.ops_url, timeout=10) as client:
        ops = (await client.get("/ops/jobs")).json()
    assert ops["kinds"]["email"]["dead_letters"] >= 1 and ops["kinds"]["email"]["retries_total"] >= 3
    assert ops["process"]["kinds"]["email"]["dead"] >= 1 and ops["process"]["kinds"]["email"]["retried"] >= 3
    refusing.refusals[dead_to] = 0
    out = await _cli(server_env, "replay-dlq", "email")
    assert "re-queued" in out
    await wait_until(lambda: _async(refusing.delivered_to(dead_to)), timeout=30, what="replayed delivery")
    await wait_until(lambda: queue_idle(ws, mongo_db, ("email",)), timeout=30, what="email queue idle")
    after = orjson.loads(await _cli(server_env, "status", "--json"))["email"]
    assert after["dead_letters"] == 0 and after["dead_letters_total"] >= 1
    assert refusing.delivered_to(dead_to) == 1


async def _async(value):
    return value


async def _cli(env: dict[str, str], *args: str) -> str:
    import os

    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "merchant_cli.main", "jobs", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout
