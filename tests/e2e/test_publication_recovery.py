"""Nothing accepted is lost: a command API killed between append and publish, and a
Kafka outage while commands arrive. Each test runs its own processes and namespace."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections import Counter

import httpx
import pytest

from command_api.bootstrap import bootstrap
from tests.e2e.commands import auth, order_body, product_body
from tests.e2e.isolation import Namespace
from tests.support.processes import free_port, http_service

pytestmark = pytest.mark.e2e


async def wait_until(predicate, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, message
        await asyncio.sleep(0.2)


async def merchant_in(ns: Namespace) -> dict:
    side = bootstrap(db=ns.db)
    await side.prepare()
    m = await side.merchants.create("Recovery Shop")
    return {"secret_key": m.secret_key, "publishable_key": m.publishable_key}


async def a_batch_of_commands(client: httpx.AsyncClient, merchant: dict, tag: str) -> list[httpx.Response]:
    """Products created concurrently, then orders and stock changes on them."""
    sk = auth(merchant["secret_key"])
    created = await asyncio.gather(
        *(client.post("/v1/products", json=product_body(stock=50), headers=sk) for _ in range(5))
    )
    ids = [r.json()["id"] for r in created]
    follow_ups = await asyncio.gather(
        *(
            client.post("/v1/orders", json=order_body((pid, 2)), headers=auth(merchant["publishable_key"]))
            for pid in ids
        ),
        *(
            client.post(f"/v1/products/{pid}/stock", json={"delta": 3, "reason": f"restock {tag}"}, headers=sk)
            for pid in ids
        ),
    )
    return [*created, *follow_ups]


def assert_kafka_matches_store(stored: dict, on_kafka: dict) -> None:
    assert set(on_kafka) == set(stored)
    for aggregate_id, events in stored.items():
        seen = on_kafka[aggregate_id]
        first_seen = list(dict.fromkeys(e.event_id for e in seen))  # at-least-once: dedupe by id
        assert first_seen == [e.event_id for e in events], f"{aggregate_id}: missing or out of version order"
        assert {e.event_id: e for e in seen} == {e.event_id: e for e in events}  # identical envelopes


async def test_killed_between_append_and_publish_the_relay_publishes_what_was_missing(server_env, tmp_path):
    ns = await Namespace(server_env).open()
    try:
        merchant = await merchant_in(ns)
        # Test-only switch: no publish right after the append, and no relay pass before the kill.
        unpublishing = {
            **ns.env,
            "COMMAND_API_IMMEDIATE_PUBLISH": "false",
            "COMMAND_API_RELAY_INTERVAL_SECONDS": "3600",
        }
        api = http_service("command-api-doomed", "command-api", unpublishing, tmp_path).start().wait_ready()
        async with httpx.AsyncClient(base_url=api.url, timeout=30) as client:
            responses = await a_batch_of_commands(client, merchant, "before the crash")
        assert {r.status_code for r in responses} == {202}
        unpublished = await ns.unpublished()
        # merchant + 5 products + 5 reservations + 5 orders + 5 stock adjustments, none on Kafka
        assert unpublished == await ns.db["commits"].count_documents({}) == 21
        api.kill()  # SIGKILL: no lifespan shutdown, no flush

        restarted = (
            http_service(
                "command-api-restarted",
                "command-api",
                {**ns.env, "COMMAND_API_RELAY_INTERVAL_SECONDS": "0.2", "COMMAND_API_RELAY_GRACE_SECONDS": "0.5"},
                tmp_path,
            )
            .start()
            .wait_ready()
        )
        try:
            await wait_until(lambda: _zero(ns.unpublished()), 60, "the relay did not publish everything")
            stored = await ns.stored_events()
            assert_kafka_matches_store(stored, await ns.kafka_events(await ns.expected_per_topic()))
            assert sum(len(v) for v in stored.values()) == 21
        finally:
            restarted.stop()
    finally:
        await ns.close()


async def _zero(count) -> bool:
    return await count == 0


# -- Kafka outage, on a private broker --------------------------------------------------
def infra(action: str, env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "merchant_cli.main", "infra", action, "--only", "kafka"],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        timeout=180,
    )


@pytest.fixture
def private_kafka(tmp_path):
    env = {
        "MERCHANT_INFRA_RUN": str(tmp_path / "infra"),
        "MERCHANT_KAFKA_PORT": str(free_port()),
        "MERCHANT_KAFKA_CONTROLLER_PORT": str(free_port()),
    }
    infra("up", env)
    try:
        yield env, f"127.0.0.1:{env['MERCHANT_KAFKA_PORT']}"
    finally:
        infra("down", env)


OUTAGE_SECONDS = 30


async def test_kafka_down_for_30s_commands_are_accepted_and_published_after(server_env, private_kafka, tmp_path):
    infra_env, bootstrap = private_kafka
    ns = await Namespace(server_env, KAFKA_BOOTSTRAP_SERVERS=bootstrap).open()
    api = (
        http_service(
            "command-api-outage",
            "command-api",
            {**ns.env, "COMMAND_API_RELAY_INTERVAL_SECONDS": "0.5", "COMMAND_API_RELAY_GRACE_SECONDS": "1"},
            tmp_path,
        )
        .start()
        .wait_ready()
    )
    try:
        merchant = await merchant_in(ns)
        async with httpx.AsyncClient(base_url=api.url, timeout=30) as client:
            before = await a_batch_of_commands(client, merchant, "before")
            await wait_until(lambda: _zero(ns.unpublished()), 30, "not published before the outage")

            infra("down", infra_env)
            stopped = time.monotonic()
            during: list[httpx.Response] = []
            latencies: list[float] = []
            while time.monotonic() - stopped < OUTAGE_SECONDS - 5:
                began = time.monotonic()
                during += await a_batch_of_commands(client, merchant, "during")
                latencies.append(time.monotonic() - began)
            assert await ns.unpublished() > 0  # accepted, durable, not yet on Kafka
            ready = await client.get("/health/ready")
            assert ready.status_code == 200 and ready.json()["checks"]["kafka"] == "degraded"
            await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - stopped)))
            infra("up", infra_env)
            after = await a_batch_of_commands(client, merchant, "after")

        assert Counter(r.status_code for r in before + during + after) == {202: len(before + during + after)}
        assert max(latencies) < 10, latencies  # a batch never waited for the broker's timeouts
        await wait_until(lambda: _zero(ns.unpublished()), 90, "accepted events never reached Kafka")
        stored = await ns.stored_events()
        assert_kafka_matches_store(stored, await ns.kafka_events(await ns.expected_per_topic()))
    finally:
        api.stop()
        await ns.close()
