"""Audit log: every event in the event store has exactly one audit entry, also after the
events were published twice (relay after a crash) and the worker was killed midway;
each merchant reads only its own entries through the query API."""

from __future__ import annotations

import asyncio
import signal
import uuid

import httpx
import pytest

from shared.events import EventEnvelope
from shared.worker_read_models import AUDIT_LOG

from tests.support.processes import http_service
from tests.support.workers import order_placed, queue_idle, wait_until, worker, worker_settings

pytestmark = pytest.mark.integration


def product_commit(merchant_id: str):
    from command_api.application.ports import Commit

    product_id, corr = str(uuid.uuid4()), str(uuid.uuid4())
    events = [
        EventEnvelope(
            type=t,
            aggregate_type="product",
            aggregate_id=product_id,
            aggregate_version=v,
            merchant_id=merchant_id,
            correlation_id=corr,
            causation_id=f"cmd-{corr}",
            data=d,
        )
        for v, (t, d) in enumerate(
            [
                (
                    "ProductCreated",
                    {"sku": "S", "name": "N", "category": "c", "price": {"amount": 100, "currency": "EUR"}, "stock": 1},
                ),
                ("ProductPublished", {}),
            ],
            start=1,
        )
    ]
    return Commit("product", product_id, merchant_id, f"cmd-{corr}", events)


def order_commit(merchant_id: str):
    from command_api.application.ports import Commit

    event = order_placed(merchant_id, "audit@example.com")
    return Commit("order", event.aggregate_id, merchant_id, f"cmd-{event.correlation_id}", [event])


async def test_every_stored_event_has_exactly_one_audit_entry(server_env, settings, mongo_db, tmp_path):
    from shared.settings import CommandApiSettings

    from command_api.bootstrap import bootstrap

    side = bootstrap(CommandApiSettings(**dict(settings)), db=mongo_db)  # the session's topics
    await side.prepare()
    shop, other = await side.merchants.create("Audited"), await side.merchants.create("Other")
    commits = [make(m.merchant_id) for m in (shop, other) for make in (product_commit, order_commit) for _ in range(15)]
    for commit in commits:
        await side.store.append(commit)
    # Merchants are event-sourced: their MerchantCreated commits are in the store too.
    from command_api.application.ports import Commit

    merchants = [shop.merchant_id, other.merchant_id]
    commits += [
        Commit.from_document(d)
        async for d in mongo_db["commits"].find({"aggregate_type": "merchant", "merchant_id": {"$in": merchants}})
    ]

    first = worker(server_env, tmp_path, "workers-audit-1")
    await asyncio.to_thread(lambda: first.start().wait_ready())
    publisher = side.publisher
    try:
        for i, commit in enumerate(commits):
            await publisher.publish([commit])
            if i % 4 == 0:
                await publisher.publish([commit])  # published twice: the relay after a crash
            if i == len(commits) // 2:
                await asyncio.to_thread(first.kill, signal.SIGKILL)  # uncommitted offsets redeliver
    finally:
        await side.close()
        await asyncio.to_thread(first.kill, signal.SIGKILL)

    stored = [
        e["event_id"] async for c in mongo_db["commits"].find({"merchant_id": {"$in": merchants}}) for e in c["events"]
    ]
    assert len(stored) == 15 * 2 * 2 + 15 * 2 + 2  # 2 per product commit, 1 per order, 1 per merchant

    second = worker(server_env, tmp_path, "workers-audit-2")
    query_api = http_service("query-api-audit", "query-api", server_env, tmp_path)
    await asyncio.to_thread(lambda: (second.start().wait_ready(), query_api.start().wait_ready()))
    try:

        async def all_recorded():
            return await mongo_db[AUDIT_LOG].count_documents({"merchant_id": {"$in": merchants}}) >= len(stored)

        await wait_until(all_recorded, timeout=60, what="audit entries")
        await wait_until(
            lambda: queue_idle(worker_settings(server_env), mongo_db, ("audit",)), timeout=60, what="audit queue idle"
        )
        pages = await read_all(query_api.url, shop.secret_key)
        others = await read_all(query_api.url, other.secret_key)
    finally:
        await asyncio.to_thread(lambda: (second.stop(), query_api.stop()))

    entries = [e async for e in mongo_db[AUDIT_LOG].find({"merchant_id": {"$in": merchants}})]
    assert sorted(e["_id"] for e in entries) == sorted(stored)  # each stored event exactly once
    by_id = {e["_id"]: e for e in entries}
    some = commits[0].events[1]
    assert by_id[str(some.event_id)]["type"] == "ProductPublished"
    assert by_id[str(some.event_id)]["correlation_id"] == some.correlation_id
    assert by_id[str(some.event_id)]["actor"] == {"merchant_id": shop.merchant_id, "command_id": some.causation_id}

    shop_ids = {e["_id"] for e in entries if e["merchant_id"] == shop.merchant_id}
    assert [p["id"] for p in pages] == sorted(shop_ids, key=lambda i: (by_id[i]["occurred_at"], i))
    assert {p["id"] for p in others} == {i for i in by_id if i not in shop_ids}


async def read_all(url: str, key: str) -> list[dict]:
    """Every audit entry a merchant can read, following the cursor 7 at a time."""
    items, after = [], None
    async with httpx.AsyncClient(base_url=url, timeout=10, headers={"Authorization": f"Bearer {key}"}) as client:
        while True:
            params = {"limit": 7, **({"after": after} if after else {})}
            page = (await client.get("/v1/audit", params=params)).json()
            items += page["items"]
            if "next" not in page:
                return items
            after = page["next"]
