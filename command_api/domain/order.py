"""The Order aggregate: a storefront's order and its lifecycle.

    placed ─▶ confirmed ─▶ paid ─▶ shipped ─▶ delivered
       │          │          │
       ├──────────┴──────────┴─▶ cancelled (before shipping; stock goes back)
       └──────────┴─▶ expired (not paid in time: the expirer; stock goes back)
    paid / shipped / delivered / cancelled-after-payment ─▶ refunded

A failed payment is recorded (``OrderPaymentFailed``) and leaves the order where it was,
so the customer can pay again. Any other transition is refused with the current state.
"""

from __future__ import annotations

from shared.events import orders as ev

from command_api.domain.aggregate import Aggregate, InvalidState

PAYABLE = ("placed", "confirmed")
CANCELLABLE = ("placed", "confirmed", "paid")


class Order(Aggregate):
    aggregate_type = ev.AGGREGATE_TYPE

    def __init__(self, aggregate_id: str, merchant_id: str) -> None:
        super().__init__(aggregate_id, merchant_id)
        self.status: ev.OrderStatus | None = None
        # The products its lines hold stock of (what a cancel gives back): only the ids, not
        # the lines, since the state is cached (``Repository``) and a line model costs ~1.7 KB.
        self.product_ids: tuple[str, ...] = ()
        self.total = 0
        self.paid_amount = 0
        self.cancelled = False  # stays true after a refund: the stock went back

    # -- decisions -------------------------------------------------------------------
    def place(self, data: ev.OrderPlaced) -> None:
        if self.exists:
            raise InvalidState("The order already exists.", current_state=self.status)
        self.record(data)

    def confirm(self) -> None:
        self._require("confirm", "placed")
        self.record(ev.OrderConfirmed())

    def pay(self, payment_reference: str) -> None:
        self._require("pay", *PAYABLE)
        self.record(ev.OrderPaid(payment_reference=payment_reference, amount=self.total))

    def fail_payment(self, reason: str, payment_reference: str | None) -> None:
        self._require("record a failed payment for", *PAYABLE)
        self.record(ev.OrderPaymentFailed(reason=reason, payment_reference=payment_reference))

    def ship(self, carrier: str, tracking_number: str) -> None:
        self._require("ship", "paid")
        self.record(ev.OrderShipped(carrier=carrier, tracking_number=tracking_number))

    def deliver(self) -> None:
        self._require("deliver", "shipped")
        self.record(ev.OrderDelivered())

    def cancel(self, reason: str) -> None:
        self._require("cancel", *CANCELLABLE)
        self.record(ev.OrderCancelled(reason=reason))

    def expire(self, unpaid_for_seconds: int) -> None:
        self._require("expire", *PAYABLE)
        self.record(ev.OrderExpired(unpaid_for_seconds=unpaid_for_seconds))

    def refund(self, reason: str) -> None:
        if self.paid_amount == 0 or self.status == "refunded":
            raise InvalidState(
                f"Cannot refund an order that is {self.status}: only paid orders can be refunded"
                + (" once." if self.status == "refunded" else "."),
                current_state=self.status,
            )
        self.record(ev.OrderRefunded(amount=self.paid_amount, reason=reason))

    def _require(self, action: str, *allowed: str) -> None:
        if self.status not in allowed:
            raise InvalidState(
                f"Cannot {action} an order that is {self.status} (allowed when {' or '.join(allowed)}).",
                current_state=self.status,
            )

    # -- state changes ---------------------------------------------------------------
    def on_OrderPlaced(self, e: ev.OrderPlaced) -> None:
        self.status, self.total = "placed", e.total
        self.product_ids = tuple(line.product_id for line in e.lines)

    def on_OrderConfirmed(self, e: ev.OrderConfirmed) -> None:
        self.status = "confirmed"

    def on_OrderPaid(self, e: ev.OrderPaid) -> None:
        self.status, self.paid_amount = "paid", e.amount

    def on_OrderPaymentFailed(self, e: ev.OrderPaymentFailed) -> None:
        pass  # the order stays payable

    def on_OrderShipped(self, e: ev.OrderShipped) -> None:
        self.status = "shipped"

    def on_OrderDelivered(self, e: ev.OrderDelivered) -> None:
        self.status = "delivered"

    def on_OrderCancelled(self, e: ev.OrderCancelled) -> None:
        self.status, self.cancelled = "cancelled", True

    def on_OrderExpired(self, e: ev.OrderExpired) -> None:
        self.status, self.cancelled = "expired", True

    def on_OrderRefunded(self, e: ev.OrderRefunded) -> None:
        self.status = "refunded"
