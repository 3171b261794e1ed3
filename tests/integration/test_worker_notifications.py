"""Shipping notices by email and SMS (file sink), once each; analytics roll-ups."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from shared.events import EventEnvelope
from shared.worker_read_models import MERCHANT_ANALYTICS

from tests.support.processes import http_service
from tests.support.workers import mail_to, order_placed, produce, queue_idle, wait_until, worker, worker_settings

pytestmark = pytest.mark.integration


def order_event(placed: EventEnvelope, type_: str, version: int, data: dict) -> EventEnvelope:
    return EventEnvelope(
        type=type_,
        aggregate_type="order",
        aggregate_id=placed.aggregate_id,
        aggregate_version=version,
        merchant_id=placed.merchant_id,
        correlation_id=placed.correlation_id,
        data=data,
    )


@pytest.fixture(scope="module")
async def running_worker(server_env, tmp_path_factory):
    logs = tmp_path_factory.mktemp("notifications")
    service = worker(server_env, logs, "workers-notifications")
    await asyncio.to_thread(lambda: service.start().wait_ready())
    yield logs / "sms.jsonl"
    await asyncio.to_thread(service.stop)


@pytest.fixture(scope="module")
async def query_api(server_env, tmp_path_factory):
    service = http_service("query-api-analytics", "query-api", server_env, tmp_path_factory.mktemp("qa"))
    await asyncio.to_thread(lambda: service.start().wait_ready())
    yield service.url
    await asyncio.to_thread(service.stop)


async def test_shipping_notice_by_email_and_by_sms_when_there_is_a_phone(
    running_worker, servers, settings, server_env, mongo_db
):
    run = uuid.uuid4().hex[:8]
    phone = f"+3360{int(run, 16) % 10**7:07d}"
    with_phone = order_placed("m-ship", f"ship-{run}-1@example.com", phone=phone)
    without = order_placed("m-ship", f"ship-{run}-2@example.com")
    shipped = [
        order_event(p, "OrderShipped", 2, {"carrier": "DHL", "tracking_number": f"TN-{run}-{i}"})
        for i, p in enumerate((with_phone, without))
    ]
    await produce(settings, [with_phone, without, *shipped, shipped[0]])  # the last one: redelivered

    recipients = {f"ship-{run}-1@example.com", f"ship-{run}-2@example.com"}

    async def both_notices():
        found = await mail_to(servers.mailbox_api, recipients)
        notices = {to: [m for m in msgs if "has shipped" in m["Subject"]] for to, msgs in found.items()}
        return notices if all(notices.values()) else None

    await wait_until(both_notices, timeout=60, what="shipping notices")
    await wait_until(
        lambda: queue_idle(worker_settings(server_env), mongo_db, ("email", "sms")),
        timeout=60,
        what="email and sms queues idle",
    )
    notices = await both_notices()
    assert {to: len(m) for to, m in notices.items()} == {to: 1 for to in recipients}
    sms = [json.loads(line) for line in running_worker.read_text().splitlines()]
    mine = [s for s in sms if run in s["text"]]
    assert len(mine) == 1 and mine[0]["to"] == phone
    assert f"TN-{run}-0" in mine[0]["text"] and "DHL" in mine[0]["text"]


async def test_analytics_rollups_weekly_monthly_top_products_and_repeat_customers(
    running_worker, settings, mongo_db, query_api
):
    from command_api.bootstrap import bootstrap

    side = bootstrap(db=mongo_db)
    await side.prepare()
    shop = await side.merchants.create("Analytics Shop")
    merchant = shop.merchant_id
    at = datetime(2026, 11, 29, 10, tzinfo=UTC)  # ISO week 2026-W48, month 2026-11
    placed = [
        order_placed(merchant, email, lines=lines).model_copy(update={"occurred_at": at})
        for email, lines in [
            ("ann@example.com", [("Mug", 1000, 3)]),
            ("ann@example.com", [("Towel", 500, 1)]),
            ("bob@example.com", [("Towel", 500, 2)]),
            ("cat@example.com", [("Mug", 1000, 9)]),
        ]
    ]
    cancelled = order_event(placed[3], "OrderCancelled", 2, {"reason": "changed mind"})
    await produce(settings, [*placed, cancelled, placed[0]])  # placed[0] redelivered

    async def rolled_up():
        doc = await mongo_db[MERCHANT_ANALYTICS].find_one({"_id": merchant})
        # Converged: the series and the top products come from separate passes over the
        # orders, so wait until both have seen every order (a roll-up mid-way is partial).
        done = (
            doc
            and doc["customers"] == 3
            and doc["monthly"]
            and doc["monthly"][0]["sales"] == 4500
            and {p["product_id"]: p["units"] for p in doc["top_products"]}.get("p-Towel") == 3
        )
        return doc if done else None

    doc = await wait_until(rolled_up, timeout=60, what="analytics roll-up")
    assert doc["monthly"] == [{"month": "2026-11", "currency": "EUR", "orders": 4, "sales": 3000 + 500 + 1000 + 0}]
    assert doc["weekly"] == [{"week": "2026-W48", "currency": "EUR", "orders": 4, "sales": 4500}]
    assert [(p["product_id"], p["units"], p["sales"]) for p in doc["top_products"]] == [
        ("p-Mug", 3, 3000),
        ("p-Towel", 3, 1500),
    ]  # the cancelled 9 mugs do not count
    assert doc["repeat_customers"] == 1 and doc["repeat_customer_rate"] == pytest.approx(1 / 3)

    # Dashboards read it through the query API, each merchant its own, cached.
    key = {"Authorization": f"Bearer {shop.secret_key}"}
    async with httpx.AsyncClient(base_url=query_api, timeout=10) as client:
        served = (await client.get("/v1/analytics", headers=key)).json()
        hits = (await client.get("/health/cache")).json()["l1_hits"]
        assert (await client.get("/v1/analytics", headers=key)).json() == served
        assert (await client.get("/health/cache")).json()["l1_hits"] == hits + 1  # from the cache
        other = await side.merchants.create("No Orders Yet")
        empty = (await client.get("/v1/analytics", headers={"Authorization": f"Bearer {other.secret_key}"})).json()
        anonymous = await client.get("/v1/analytics")
        assert served["monthly"] == doc["monthly"] and served["top_products"] == doc["top_products"]
        assert empty["monthly"] == [] and empty["customers"] == 0 and empty["merchant_id"] == other.merchant_id
        assert anonymous.status_code == 401

        # A new order: the worker's next roll-up invalidates the cached answer (its TTL,
        # 5 minutes, would be far longer than this wait).
        await produce(settings, [order_placed(merchant, "dan@example.com").model_copy(update={"occurred_at": at})])

        async def served_again():
            return (await client.get("/v1/analytics", headers=key)).json()["customers"] == 4

        await wait_until(served_again, timeout=30, what="the new roll-up served")
