"""After a run: was any accepted command lost?

For the load's merchants, once publication and projection settled: the events in the
event store == the distinct events on the Kafka domain topics (publication is
at-least-once, so duplicates are allowed, missing ones are not) and the orders placed in
the store == the orders in the read model; every order the load got a 202 for is in it.
"""

from __future__ import annotations

import asyncio

from shared import mongo
from shared.read_models import ORDERS


async def _store_counts(db, merchants: list[str]) -> dict:
    """A commit is unpublished while it has an outbox entry (``command_api.adapters.outbox``)."""
    events = orders = 0
    ids = set()
    async for commit in db["commits"].find({"merchant_id": {"$in": merchants}}, {"events.type": 1}):
        events += len(commit["events"])
        orders += sum(1 for e in commit["events"] if e["type"] == "OrderPlaced")
        ids.add(commit["_id"])
    unpublished = len({e["_id"] async for e in db["outbox"].find({}, {"_id": 1})} & ids)
    return {"store_events": events, "store_orders": orders, "unpublished_commits": unpublished}


async def _read_model_orders(db, merchants: list[str]) -> set[str]:
    return {d["_id"] async for d in db[ORDERS].find({"merchant_id": {"$in": merchants}}, {"_id": 1})}


async def check(settings, merchants: list[str], accepted_orders: list[str], timeout: float = 120) -> dict:
    from merchant_testkit.events import PublishedEvents

    client = mongo.open_mongo(settings)
    db = mongo.database(client, settings)
    wanted = set(merchants)
    recorder = await PublishedEvents(settings).start()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while True:  # until the relay, Kafka and the projectors caught up (or the timeout)
            store = await _store_counts(db, merchants)
            on_kafka = {e.event_id for e in recorder.events if e.merchant_id in wanted}
            in_read_model = await _read_model_orders(db, merchants)
            settled = (
                store["unpublished_commits"] == 0
                and len(on_kafka) >= store["store_events"]
                and len(in_read_model) >= store["store_orders"]
            )
            if settled or loop.time() > deadline:
                break
            await asyncio.sleep(2)
        missing = sorted(set(accepted_orders) - in_read_model)
        return {
            **store,
            "kafka_distinct_events": len(on_kafka),
            "kafka_messages": sum(1 for e in recorder.events if e.merchant_id in wanted),
            "read_model_orders": len(in_read_model),
            "accepted_orders": len(accepted_orders),
            "accepted_missing": len(missing),
            "missing_sample": missing[:5],
            "ok": settled
            and not missing
            and len(on_kafka) == store["store_events"]
            and len(in_read_model) == store["store_orders"],
        }
    finally:
        await recorder.stop()
        await client.close()
