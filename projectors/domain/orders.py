"""``orders``: one document per order, with its lines as they were at order time.

``evolve(state, event, data)`` is pure (see ``merchant_products``). Status changes append
to ``status_history``; a failed payment does not change the status, it is counted in
``payment_failures`` (``merchant_stats`` derives the payment success rate from it).
``open`` is true while the order still needs the merchant (placed, confirmed, paid): the
fulfilment queue's partial index covers only those.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from shared.events import EventEnvelope
from shared.events import orders as ev
from shared.read_model_indexes import OPEN_STATUSES
from shared.read_models import ORDERS

from projectors.domain.contributions import Doc
from projectors.domain.errors import Unprojectable
from projectors.domain.values import int64, millis

COLLECTION = ORDERS

# The status each event moves the order to, and the timestamp field it stamps.
TRANSITIONS: dict[type, tuple[str, str]] = {
    ev.OrderConfirmed: ("confirmed", "confirmed_at"),
    ev.OrderPaid: ("paid", "paid_at"),
    ev.OrderShipped: ("shipped", "shipped_at"),
    ev.OrderDelivered: ("delivered", "delivered_at"),
    ev.OrderCancelled: ("cancelled", "cancelled_at"),
    ev.OrderExpired: ("expired", "expired_at"),
    ev.OrderRefunded: ("refunded", "refunded_at"),
}


def day_of(moment: datetime) -> str:
    return moment.date().isoformat()


def _line(line: ev.OrderLine) -> Doc:
    doc = line.model_dump()
    for name in ("quantity", "line_total"):
        int64(doc[name], name)
    int64(doc["unit_price"]["amount"], "unit price")
    return doc


def placed(event: EventEnvelope, data: ev.OrderPlaced) -> Doc:
    at = millis(event.occurred_at)
    return {
        "_id": event.aggregate_id,
        "merchant_id": event.merchant_id,
        "customer": data.customer.model_dump(),
        "customer_email": data.customer.email.lower(),
        "shipping_address": data.shipping_address.model_dump(),
        "lines": [_line(line) for line in data.lines],
        "currency": data.currency,
        "item_count": int64(data.item_count, "item count"),
        "total": int64(data.total, "total"),
        "status": "placed",
        "open": True,
        "status_history": [{"status": "placed", "at": at}],
        "payment_reference": None,
        "payment_failures": 0,
        "last_payment_error": None,
        "paid_amount": 0,
        "refunded_amount": 0,
        "carrier": None,
        "tracking_number": None,
        "cancel_reason": None,
        "placed_at": at,
        "placed_day": day_of(at),
        "confirmed_at": None,
        "paid_at": None,
        "shipped_at": None,
        "delivered_at": None,
        "cancelled_at": None,
        "expired_at": None,
        "refunded_at": None,
    }


def _transition(state: Doc, status: str, stamp: str, at: datetime) -> Doc:
    return {
        **state,
        "status": status,
        "open": status in OPEN_STATUSES,
        stamp: at,
        "status_history": [*state["status_history"], {"status": status, "at": at}],
    }


def evolve(state: Doc | None, event: EventEnvelope, data: BaseModel) -> Doc:
    if isinstance(data, ev.OrderPlaced):
        if state is not None:
            raise Unprojectable(f"order {event.aggregate_id} placed twice")
        doc = placed(event, data)
    elif state is None:
        raise Unprojectable(f"{event.type} before OrderPlaced")
    elif isinstance(data, ev.OrderPaymentFailed):
        doc = {**state, "payment_failures": state["payment_failures"] + 1, "last_payment_error": data.reason}
    elif type(data) in TRANSITIONS:
        doc = _transition(state, *TRANSITIONS[type(data)], millis(event.occurred_at))
        if isinstance(data, ev.OrderPaid):
            doc.update(payment_reference=data.payment_reference, paid_amount=int64(data.amount, "paid amount"))
        elif isinstance(data, ev.OrderShipped):
            doc.update(carrier=data.carrier, tracking_number=data.tracking_number)
        elif isinstance(data, ev.OrderCancelled):
            doc["cancel_reason"] = data.reason
        elif isinstance(data, ev.OrderRefunded):
            doc["refunded_amount"] = int64(state["refunded_amount"] + data.amount, "refunded amount")
    else:
        raise Unprojectable(f"{event.type} is not an order event")
    doc["updated_at"] = millis(event.occurred_at)
    doc["version"] = int64(event.aggregate_version, "version")
    return doc
