"""Analytics roll-ups the dashboards need beyond the projectors' daily stats.

Event-driven facts, periodic roll-ups:

- ``record``: each order event upserts one fact per order (``analytics_order_facts``) —
  an idempotent ``$set``, so redelivery never double-counts — and marks its merchant dirty;
- ``rollup``: every few seconds, each dirty merchant's roll-up is recomputed from its
  facts with ``$group``/``$sum`` only (FerretDB-safe) into ``merchant_analytics``:
  weekly and monthly sales series, top products, repeat-customer rate.

Cancelled and refunded orders count in the order series but not in sales.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from shared.events import EventEnvelope, decode_data_as, utc_now
from shared.events.orders import OrderPlaced
from shared.mongo import Collection, Database, Document, group_sums
from shared.worker_read_models import MERCHANT_ANALYTICS, MerchantAnalytics, MonthlySales, TopProduct, WeeklySales

from workers.application.jobs import Job, job_id_for
from workers.application.policy import Handler

FACTS = "analytics_order_facts"
DIRTY = "analytics_dirty"
ORDER_EVENTS = {"OrderPlaced", "OrderCancelled", "OrderRefunded"}
NOT_SALES = ("cancelled", "refunded")


def analytics_job(event: EventEnvelope) -> Job | None:
    if event.type not in ORDER_EVENTS:
        return None
    return Job(
        job_id=job_id_for(event.event_id, "analytics.record"),
        kind="analytics",
        action="record",
        merchant_id=event.merchant_id,
        correlation_id=event.correlation_id,
        key=event.aggregate_id,
        payload=event.model_dump(mode="json"),
    )


def fact_update(event: EventEnvelope) -> Document:
    """The ``$set`` for one order event (pure): the whole fact for ``OrderPlaced``, the
    status for a cancellation or refund."""
    if event.type == "OrderPlaced":
        order = decode_data_as(event, OrderPlaced)
        placed: datetime = event.occurred_at
        year, week, _ = placed.isocalendar()
        return {
            "merchant_id": event.merchant_id,
            "placed_at": placed,
            "week": f"{year}-W{week:02d}",
            "month": placed.strftime("%Y-%m"),
            "currency": order.currency,
            "total": order.total,
            "customer": order.customer.email.lower(),
            "lines": [
                {
                    "product_id": line.product_id,
                    "name": line.name,
                    "quantity": line.quantity,
                    "line_total": line.line_total,
                }
                for line in order.lines
            ],
        }
    return {"merchant_id": event.merchant_id, "status": "cancelled" if event.type == "OrderCancelled" else "refunded"}


async def series(facts: Collection, merchant_id: str, period: Literal["week", "month"]) -> list[Document]:
    """Orders and sales per (period, currency), in that order."""
    match = [{"$match": {"merchant_id": merchant_id, "placed_at": {"$exists": True}}}]
    sums = await group_sums(
        facts, match, {"period": f"${period}", "currency": "$currency"}, {"orders": 1, "sales": "$sales"}
    )
    rows = []
    for key, values in sums.items():
        assert isinstance(key, tuple)  # a document key: group_sums gives its sorted items
        fields = dict(key)
        rows.append({period: fields["period"], "currency": fields["currency"], **values})
    return sorted(rows, key=lambda r: (r[period], r["currency"]))


async def rollup(db: Database, merchant_id: str, top_n: int = 10) -> MerchantAnalytics:
    facts = db[FACTS]
    # "sales" counts an order's total unless it was cancelled or refunded.
    await facts.update_many({"merchant_id": merchant_id, "status": {"$in": list(NOT_SALES)}}, {"$set": {"sales": 0}})
    products = await group_sums(
        facts,
        [{"$match": {"merchant_id": merchant_id, "status": {"$nin": list(NOT_SALES)}}}, {"$unwind": "$lines"}],
        "$lines.product_id",
        {"units": "$lines.quantity", "sales": "$lines.line_total"},
    )
    top = sorted(products.items(), key=lambda kv: (-kv[1]["units"], str(kv[0])))[:top_n]
    customers = await group_sums(
        facts, [{"$match": {"merchant_id": merchant_id, "customer": {"$exists": True}}}], "$customer", {"orders": 1}
    )
    counts = [c["orders"] for c in customers.values()]
    repeat = sum(1 for n in counts if n > 1)
    result = MerchantAnalytics(
        merchant_id=merchant_id,
        weekly=[WeeklySales.model_validate(row) for row in await series(facts, merchant_id, "week")],
        monthly=[MonthlySales.model_validate(row) for row in await series(facts, merchant_id, "month")],
        top_products=[TopProduct.model_validate({"product_id": p, **sums}) for p, sums in top],
        customers=len(counts),
        repeat_customers=repeat,
        computed_at=utc_now(),
        repeat_customer_rate=repeat / len(counts) if counts else 0.0,
    )
    await db[MERCHANT_ANALYTICS].replace_one({"_id": merchant_id}, result.document(), upsert=True)
    return result


def analytics_handlers(db: Database) -> dict[str, Handler]:
    async def record(job: Job) -> None:
        event = EventEnvelope.model_validate(job.payload)
        update = fact_update(event)
        # OrderPlaced never touches ``status``, so a replayed placement cannot undo a
        # cancellation; ``rollup`` re-zeroes the sales of cancelled and refunded orders.
        update["sales"] = update["total"] if event.type == "OrderPlaced" else 0
        await db[FACTS].update_one({"_id": event.aggregate_id}, {"$set": update}, upsert=True)
        await db[DIRTY].update_one({"_id": event.merchant_id}, {"$set": {"dirty_at": utc_now()}}, upsert=True)

    async def rollup_job(job: Job) -> None:
        await rollup(db, job.merchant_id)

    return {"record": record, "rollup": rollup_job}


async def dirty_rollup_jobs(db: Database) -> list[Job]:
    """Roll-up jobs for merchants marked dirty; the mark is cleared only if unchanged since."""
    jobs = []
    async for mark in db[DIRTY].find({}):
        await db[DIRTY].delete_one({"_id": mark["_id"], "dirty_at": mark["dirty_at"]})
        jobs.append(
            Job(
                job_id=job_id_for(mark["_id"], f"analytics.rollup.{mark['dirty_at'].isoformat()}"),
                kind="analytics",
                action="rollup",
                merchant_id=mark["_id"],
                correlation_id=f"rollup-{mark['_id']}",
                key=mark["_id"],
            )
        )
    return jobs
