from __future__ import annotations

import pytest

from shared.events import orders as ev
from shared.events.products import Money

from command_api.domain.aggregate import InvalidState
from command_api.domain.order import Order


def placed_order() -> Order:
    order = Order("o1", "m1")
    line = ev.OrderLine(
        product_id="p1",
        sku="A1",
        name="Boots",
        unit_price=Money(amount=500, currency="EUR"),
        quantity=2,
        line_total=1000,
    )
    order.place(
        ev.OrderPlaced(
            customer=ev.Customer(email="a@b.co"),
            shipping_address=ev.Address(name="A", line1="1 Road", city="Town", postal_code="1", country="FR"),
            lines=[line],
            currency="EUR",
            item_count=2,
            total=1000,
        )
    )
    return order


def test_the_happy_path_records_each_step():
    order = placed_order()
    order.confirm()
    order.fail_payment("card declined", None)
    order.pay("pay_1")
    order.ship("UPS", "1Z")
    order.deliver()
    order.refund("returned")
    assert [t for t, _ in order.pending] == [
        "OrderPlaced",
        "OrderConfirmed",
        "OrderPaymentFailed",
        "OrderPaid",
        "OrderShipped",
        "OrderDelivered",
        "OrderRefunded",
    ]
    assert order.pending[3][1].amount == 1000 and order.pending[-1][1].amount == 1000
    assert order.status == "refunded"


@pytest.mark.parametrize("action", ["ship", "deliver", "refund"])
def test_invalid_transitions_name_the_current_state(action):
    order = placed_order()
    with pytest.raises(InvalidState) as raised:
        {"ship": lambda: order.ship("UPS", "1"), "deliver": order.deliver, "refund": lambda: order.refund("")}[action]()
    assert raised.value.details["current_state"] == "placed"
    assert "placed" in raised.value.message


def test_cancel_only_before_shipping():
    order = placed_order()
    order.pay("p")
    order.ship("UPS", "1")
    with pytest.raises(InvalidState) as raised:
        order.cancel("too late")
    assert raised.value.details["current_state"] == "shipped"


def test_a_paid_then_cancelled_order_can_be_refunded_once():
    order = placed_order()
    order.pay("p")
    order.cancel("customer asked")
    order.refund("cancelled")
    assert order.cancelled and order.status == "refunded"
    with pytest.raises(InvalidState):
        order.refund("again")


def test_an_unpaid_cancelled_order_cannot_be_refunded():
    order = placed_order()
    order.cancel("")
    with pytest.raises(InvalidState):
        order.refund("")
