"""Sales reports: 10,000 orders → CSV and PDF whose sums equal the orders read model,
downloadable through the query API, the link emailed; a report over its time limit fails
cleanly and is retried per policy (2 retries), then dead-lettered."""

from __future__ import annotations

import asyncio
import csv
import io
import random
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pypdf import PdfReader

from shared.events import EventEnvelope
from shared.read_models import ORDERS
from shared.worker_read_models import REPORT_CHUNKS, REPORTS

from tests.support.processes import http_service
from tests.support.workers import dead_letter, mail_to, produce, wait_until, worker
from workers.application.jobs import job_id_for
from workers.application.money import format_money

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 1, tzinfo=UTC)


def order_doc(merchant_id: str, placed_at: datetime, rng: random.Random) -> dict:
    qty, price = rng.randint(1, 4), rng.randint(100, 20_000)
    return {
        "_id": str(uuid.uuid4()),
        "merchant_id": merchant_id,
        "customer_email": "c@example.com",
        "customer": {"email": "c@example.com"},
        "currency": "EUR",
        "item_count": qty,
        "total": qty * price,
        "status": rng.choice(["placed", "paid", "shipped", "cancelled"]),
        "lines": [
            {
                "product_id": f"p{price % 7}",
                "sku": f"SKU-{price % 7}",
                "name": f"Product {price % 7}",
                "unit_price": {"amount": price, "currency": "EUR"},
                "quantity": qty,
                "line_total": qty * price,
            }
        ],
        "placed_at": placed_at,
        "updated_at": placed_at,
        "version": 1,
    }


@pytest.fixture(scope="module")
async def shop(mongo_db) -> dict:
    """A merchant with 10,000 orders in November 2026, and orders that must not count."""
    from command_api.bootstrap import bootstrap

    side = bootstrap(db=mongo_db)
    await side.prepare()
    merchant = await side.merchants.create("Report Shop")
    rng = random.Random(6)
    inside = [
        order_doc(merchant.merchant_id, START + timedelta(seconds=rng.randrange(30 * 86400)), rng)
        for _ in range(10_000)
    ]
    outside = [
        order_doc(merchant.merchant_id, START - timedelta(seconds=1), rng),
        order_doc(merchant.merchant_id, START + timedelta(days=30), rng),
        order_doc("another-merchant", START + timedelta(days=3), rng),
    ]
    for i in range(0, len(inside), 2000):
        await mongo_db[ORDERS].insert_many(inside[i : i + 2000])
    await mongo_db[ORDERS].insert_many(outside)
    return {"merchant_id": merchant.merchant_id, "key": merchant.secret_key}


def report_requested(merchant_id: str, notify: str | None) -> EventEnvelope:
    return EventEnvelope(
        type="ReportRequested",
        aggregate_type="report",
        aggregate_id=str(uuid.uuid4()),
        aggregate_version=1,
        merchant_id=merchant_id,
        correlation_id=str(uuid.uuid4()),
        data={
            "kind": "sales",
            "date_from": "2026-11-01",
            "date_to": "2026-11-30",
            "notify_email": notify,
            "formats": ["csv", "pdf"],
        },
    )


async def read_model_totals(db, merchant_id: str) -> tuple[int, int]:
    from shared.mongo import group_sums

    match = {"merchant_id": merchant_id, "placed_at": {"$gte": START, "$lt": START + timedelta(days=30)}}
    sums = await group_sums(db[ORDERS], [{"$match": match}], None, {"orders": 1, "total": "$total"})
    return sums[None]["orders"], sums[None]["total"]


async def test_sales_report_over_10000_orders_matches_the_read_model(
    shop, servers, server_env, settings, mongo_db, tmp_path
):
    query_api = http_service("query-api-reports", "query-api", server_env, tmp_path)
    service = worker(server_env, tmp_path, "workers-reports", QUERY_API_URL=query_api.url)
    await asyncio.to_thread(lambda: (query_api.start().wait_ready(), service.start().wait_ready()))
    notify = f"merchant-{uuid.uuid4().hex[:8]}@example.com"
    event = report_requested(shop["merchant_id"], notify)
    try:
        await produce(settings, [event])
        report = await wait_until(
            lambda: mongo_db[REPORTS].find_one({"_id": event.aggregate_id, "status": "ready"}),
            timeout=240,
            interval=0.5,
            what="report ready",
        )
        headers = {"Authorization": f"Bearer {shop['key']}"}
        async with httpx.AsyncClient(base_url=query_api.url, timeout=30, headers=headers) as client:
            status = (await client.get(f"/v1/reports/{event.aggregate_id}")).json()
            csv_bytes = (await client.get(f"/v1/reports/{event.aggregate_id}/files/csv")).content
            pdf_response = await client.get(f"/v1/reports/{event.aggregate_id}/files/pdf")
            foreign = await client.get(
                f"/v1/reports/{event.aggregate_id}", headers={"Authorization": "Bearer sk_not-a-key"}
            )
            missing = await client.get(f"/v1/reports/{event.aggregate_id}/files/xlsx")
        mail = await wait_until(
            lambda: _one(mail_to(servers.mailbox_api, {notify}), notify), timeout=30, what="report-ready email"
        )
    finally:
        await asyncio.to_thread(lambda: (service.stop(), query_api.stop()))

    orders, total = await read_model_totals(mongo_db, shop["merchant_id"])
    assert orders == 10_000
    rows = list(csv.DictReader(io.StringIO(csv_bytes.decode())))
    assert len(rows) == orders and sum(int(r["total"]) for r in rows) == total
    assert Counter(r["status"] for r in rows).total() == orders
    assert status["status"] == "ready" and status["summary"]["totals"] == {"EUR": total}
    assert status["files"]["csv"]["size"] == len(csv_bytes)

    assert pdf_response.headers["content-type"] == "application/pdf"
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf_response.content)).pages)
    assert f"Orders: {orders}" in text
    assert f"Gross sales: {format_money(total, 'EUR')}" in text
    assert foreign.status_code == 401 and missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert report["summary"]["orders"] == orders
    async with httpx.AsyncClient(base_url=servers.mailbox_api, timeout=5) as client:
        body = (await client.get(f"/api/v1/message/{mail['ID']}")).json()["Text"]
    assert f"{query_api.url}/v1/reports/{event.aggregate_id}/files/pdf" in body
    assert f"{orders} orders" in body


async def _one(found, address):
    messages = (await found)[address]
    return messages[0] if messages else None


async def test_a_report_over_its_time_limit_fails_cleanly_and_is_retried_per_policy(
    shop, server_env, settings, mongo_db, tmp_path
):
    service = worker(server_env, tmp_path, "workers-slow-reports", WORKER_REPORT_TIMEOUT_SECONDS="0.05")
    await asyncio.to_thread(lambda: service.start().wait_ready())
    event = report_requested(shop["merchant_id"], None)
    try:
        await produce(settings, [event])
        dead, _ = await dead_letter(
            settings, "reports", job_id_for(event.aggregate_id, "reports.sales_report"), timeout=60
        )
    finally:
        await asyncio.to_thread(service.stop)

    assert [a.attempt for a in dead.history] == [1, 2, 3]  # the first try and exactly 2 retries
    assert all(a.error == "timed out after 0.05s" for a in dead.history)
    report = await mongo_db[REPORTS].find_one({"_id": event.aggregate_id})
    assert report["status"] == "failed" and report["error"] == "timed out" and report["attempts"] == 3
    assert not report.get("files")
    assert await mongo_db[REPORT_CHUNKS].count_documents({"report_id": event.aggregate_id}) == 0
