"""Job payloads, one model per (kind, action): what a producer puts in ``Job.payload`` and
what its handler reads back with ``Job.read``.

| kind      | action               | payload                                   |
|-----------|----------------------|-------------------------------------------|
| email     | order_confirmation   | ``OrderConfirmation``                     |
| email     | shipping_notice      | ``ShippingNotice`` (``to``: an address)   |
| email     | order_expired        | ``OrderExpiredNotice``                    |
| email     | report_ready         | ``ReportReady``                           |
| sms       | shipping_notice      | ``ShippingNotice`` (``to``: a phone)      |
| reports   | sales_report         | ``SalesReport``                           |
| analytics | record               | the domain event (``EventEnvelope``)      |
| analytics | rollup               | none (the job's ``merchant_id``)          |
| audit     | record               | the domain event (``EventEnvelope``)      |
| warmup    | warm                 | ``WarmUp``                                |

Unknown fields are ignored, so a job written by a newer producer still runs on an older
worker during a rolling deploy; a missing or mistyped field fails validation in the
handler (see each handler for whether that is retried or dead-lettered).
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from shared.events.orders import OrderLine
from shared.events.reports import ReportFormat


class Payload(BaseModel):
    model_config = ConfigDict(frozen=True)

    def to_payload(self) -> dict[str, Any]:
        """As it travels in ``Job.payload`` (JSON types)."""
        return self.model_dump(mode="json")


class OrderConfirmation(Payload):
    to: str
    customer_name: str | None
    order_id: str
    lines: list[OrderLine]
    currency: str
    item_count: int
    total: int  # minor units


class ShippingNotice(Payload):
    # None when the order's contact is unknown: the email cannot be sent (dead letter).
    to: str | None
    order_id: str
    carrier: str
    tracking_number: str
    customer_name: str | None


class OrderExpiredNotice(Payload):
    # None when the order's contact is unknown: the email cannot be sent (dead letter).
    to: str | None
    order_id: str
    customer_name: str | None


class ReportReady(Payload):
    to: str
    report_id: str
    date_from: date
    date_to: date
    orders: int
    links: dict[str, str]  # format -> download URL


class SalesReport(Payload):
    """The ``ReportRequested`` body and the report's id."""

    report_id: str
    kind: Literal["sales"] = "sales"
    date_from: date
    date_to: date
    notify_email: str | None = None
    formats: list[ReportFormat]


class WarmUp(Payload):
    collection: str  # the read model whose cached pages to request again
    ids: list[str] = []  # the changed documents (their own pages are warmed too)


EmailPayload = OrderConfirmation | ShippingNotice | OrderExpiredNotice | ReportReady
EMAIL_PAYLOADS: dict[str, type[EmailPayload]] = {
    "order_confirmation": OrderConfirmation,
    "shipping_notice": ShippingNotice,
    "order_expired": OrderExpiredNotice,
    "report_ready": ReportReady,
}
