"""Domain events → jobs. Pure mapping (``jobs_for``, ``jobs_from``) plus the contacts it needs.

``OrderShipped`` and ``OrderExpired`` do not repeat the customer's address, so the dispatcher keeps the
contact it saw on ``OrderPlaced`` (same order key → same partition → seen first). Job ids
come from the event id, so a redelivered event yields the same jobs and sends nothing twice.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from shared.events import EventEnvelope, decode_data
from shared.events.orders import OrderExpired, OrderPlaced, OrderShipped
from shared.events.reports import ReportRequested
from shared.mongo import Database
from shared.read_models import ORDERS

from workers.application.jobs import Job, JobKind, job_id_for
from workers.application.payloads import OrderConfirmation, OrderExpiredNotice, Payload, SalesReport, ShippingNotice

ORDER_CONTACTS = "order_contacts"
DISPATCHED = {"OrderPlaced", "OrderShipped", "OrderExpired", "ReportRequested"}  # the events that make jobs


class OrderContact(BaseModel):
    """How to reach an order's customer: ``order_contacts`` (``_id`` the order id, plus
    ``merchant_id``), or the ``customer`` of the orders read model."""

    model_config = ConfigDict(frozen=True)

    email: str | None = None
    phone: str | None = None
    name: str | None = None


def _job(event: EventEnvelope, kind: JobKind, action: str, payload: Payload) -> Job:
    return Job(
        job_id=job_id_for(event.event_id, f"{kind}.{action}"),
        kind=kind,
        action=action,
        merchant_id=event.merchant_id,
        correlation_id=event.correlation_id,
        key=event.aggregate_id,
        payload=payload.to_payload(),
    )


def jobs_for(event: EventEnvelope, contact: OrderContact | None = None) -> list[Job]:
    """The jobs one domain event causes (none for most events). The body of an event of
    ``DISPATCHED`` is decoded: a ``ValueError`` if it breaks its contract."""
    if event.type not in DISPATCHED:
        return []
    return jobs_from(event, decode_data(event), contact)


def jobs_from(event: EventEnvelope, body: BaseModel, contact: OrderContact | None = None) -> list[Job]:
    """``jobs_for`` with the body already decoded."""
    if isinstance(body, OrderPlaced):
        return [_job(event, "email", "order_confirmation", confirmation(event, body))]
    if isinstance(body, OrderShipped):
        return shipping_notices(event, body, contact or OrderContact())
    if isinstance(body, OrderExpired):
        contact = contact or OrderContact()
        notice = OrderExpiredNotice(to=contact.email, order_id=event.aggregate_id, customer_name=contact.name)
        return [_job(event, "email", "order_expired", notice)]
    if isinstance(body, ReportRequested):
        job = _job(event, "reports", "sales_report", SalesReport(report_id=event.aggregate_id, **body.model_dump()))
        # One report, one job id: a re-requested *event* must not build the report twice.
        return [job.model_copy(update={"job_id": job_id_for(event.aggregate_id, "reports.sales_report")})]
    return []


def confirmation(event: EventEnvelope, order: OrderPlaced) -> OrderConfirmation:
    return OrderConfirmation(
        to=order.customer.email,
        customer_name=order.customer.name,
        order_id=event.aggregate_id,
        lines=order.lines,
        currency=order.currency,
        item_count=order.item_count,
        total=order.total,
    )


def shipping_notices(event: EventEnvelope, shipped: OrderShipped, contact: OrderContact) -> list[Job]:
    notice = ShippingNotice(
        to=contact.email,
        order_id=event.aggregate_id,
        carrier=shipped.carrier,
        tracking_number=shipped.tracking_number,
        customer_name=contact.name,
    )
    jobs = [_job(event, "email", "shipping_notice", notice)]
    if contact.phone:
        jobs.append(_job(event, "sms", "shipping_notice", notice.model_copy(update={"to": contact.phone})))
    return jobs


class Contacts:
    """Customer contacts per order, remembered from ``OrderPlaced``."""

    def __init__(self, db: Database) -> None:
        self.contacts, self.orders = db[ORDER_CONTACTS], db[ORDERS]

    async def remember(self, event: EventEnvelope, order: OrderPlaced) -> None:
        customer = order.customer
        await self.contacts.update_one(
            {"_id": event.aggregate_id},
            {
                "$set": {
                    "merchant_id": event.merchant_id,
                    "email": customer.email,
                    "phone": customer.phone,
                    "name": customer.name,
                }
            },
            upsert=True,
        )

    async def find(self, order_id: str) -> OrderContact | None:
        found = await self.contacts.find_one({"_id": order_id})
        if found is None:  # placed before the workers existed: the read model knows
            order = await self.orders.find_one({"_id": order_id}, {"customer": 1})
            found = order.get("customer") if order else None
        return OrderContact.model_validate(found) if found else None


async def dispatch(event: EventEnvelope, body: BaseModel, contacts: Contacts) -> list[Job]:
    """The jobs of an event of ``DISPATCHED`` (``body`` decoded), after remembering or
    looking up the contact they need."""
    contact = None
    if isinstance(body, OrderPlaced):
        await contacts.remember(event, body)
    elif isinstance(body, OrderShipped | OrderExpired):
        contact = await contacts.find(event.aggregate_id)
    return jobs_from(event, body, contact)
