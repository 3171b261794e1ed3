"""Domain events → jobs. Pure mapping (``jobs_for``) plus the contacts it needs.

``OrderShipped`` does not repeat the customer's address, so the dispatcher keeps the
contact it saw on ``OrderPlaced`` (same order key → same partition → seen first). Job ids
come from the event id, so a redelivered event yields the same jobs and sends nothing twice.
"""

from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase

from shared.events import EventEnvelope
from shared.read_models import ORDERS

from workers.application.jobs import Job, job_id_for

ORDER_CONTACTS = "order_contacts"
DISPATCHED = {"OrderPlaced", "OrderShipped", "ReportRequested"}  # the events that make jobs


def _job(event: EventEnvelope, kind: str, action: str, payload: dict) -> Job:
    return Job(
        job_id=job_id_for(event.event_id, f"{kind}.{action}"),
        kind=kind,
        action=action,
        merchant_id=event.merchant_id,
        correlation_id=event.correlation_id,
        key=event.aggregate_id,
        payload=payload,
    )


def jobs_for(event: EventEnvelope, contact: dict | None = None) -> list[Job]:
    """The jobs one domain event causes (none for most events)."""
    data = event.data
    if event.type == "OrderPlaced":
        customer = data["customer"]
        return [
            _job(
                event,
                "email",
                "order_confirmation",
                {
                    "to": customer["email"],
                    "customer_name": customer.get("name"),
                    "order_id": event.aggregate_id,
                    "lines": data["lines"],
                    "currency": data["currency"],
                    "item_count": data["item_count"],
                    "total": data["total"],
                },
            )
        ]
    if event.type == "OrderShipped":
        contact = contact or {}
        notice = {
            "order_id": event.aggregate_id,
            "carrier": data["carrier"],
            "tracking_number": data["tracking_number"],
            "customer_name": contact.get("name"),
        }
        jobs = [_job(event, "email", "shipping_notice", {**notice, "to": contact.get("email")})]
        if contact.get("phone"):
            jobs.append(_job(event, "sms", "shipping_notice", {**notice, "to": contact["phone"]}))
        return jobs
    if event.type == "ReportRequested":
        job = _job(event, "reports", "sales_report", {**data, "report_id": event.aggregate_id})
        # One report, one job id: a re-requested *event* must not build the report twice.
        return [job.model_copy(update={"job_id": job_id_for(event.aggregate_id, "reports.sales_report")})]
    return []


class Contacts:
    """Customer contacts per order, remembered from ``OrderPlaced``."""

    def __init__(self, db: AsyncDatabase) -> None:
        self.contacts, self.orders = db[ORDER_CONTACTS], db[ORDERS]

    async def remember(self, event: EventEnvelope) -> None:
        customer = event.data["customer"]
        await self.contacts.update_one(
            {"_id": event.aggregate_id},
            {
                "$set": {
                    "merchant_id": event.merchant_id,
                    "email": customer["email"],
                    "phone": customer.get("phone"),
                    "name": customer.get("name"),
                }
            },
            upsert=True,
        )

    async def find(self, order_id: str) -> dict | None:
        found = await self.contacts.find_one({"_id": order_id})
        if found is None:  # placed before the workers existed: the read model knows
            order = await self.orders.find_one({"_id": order_id}, {"customer": 1})
            found = order.get("customer") if order else None
        return found


async def dispatch(event: EventEnvelope, contacts: Contacts) -> list[Job]:
    contact = None
    if event.type == "OrderPlaced":
        await contacts.remember(event)
    elif event.type == "OrderShipped":
        contact = await contacts.find(event.aggregate_id)
    return jobs_for(event, contact)
