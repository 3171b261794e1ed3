"""What happens to a seeded order after it is placed: its fate, as a list of steps.

Shares (per order): 3 % payment fails and the order is abandoned (cancelled after a day
or two); 2 % payment fails once and succeeds on retry; 4 % cancelled by the customer
before paying; 2 % cancelled after paying (before shipping); the rest is paid, shipped
and delivered, half of them confirmed by the merchant first; 3 % of delivered orders
are refunded. Steps that would fall after the end of the history do not happen, so the
most recent orders are still placed, paid or shipped — a live shop's open work.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from command_api.domain.order import Order
from command_api.seeding.vocabulary import CARRIERS

MINUTE, HOUR, DAY = 60, 3600, 86_400


@dataclass
class Step:
    name: str
    delay_seconds: float  # after the previous step
    apply: Callable[[Order, random.Random], None]


def _pay(order: Order, rng: random.Random) -> None:
    order.pay(f"pay_{rng.getrandbits(48):012x}")


def _fail(order: Order, rng: random.Random) -> None:
    order.fail_payment(
        rng.choice(("card_declined", "insufficient_funds", "expired_card")), f"pay_{rng.getrandbits(48):012x}"
    )


def _ship(order: Order, rng: random.Random) -> None:
    order.ship(rng.choice(CARRIERS), f"TRK{rng.getrandbits(40):012d}")


def _cancel(reason: str) -> Callable[[Order, random.Random], None]:
    return lambda order, rng: order.cancel(reason)


def fate(rng: random.Random) -> list[Step]:
    def u(low: float, high: float) -> float:
        return rng.uniform(low, high)

    pay = Step("pay", u(2 * MINUTE, 90 * MINUTE), _pay)
    shipping = [Step("ship", u(HOUR * 12, 3 * DAY), _ship), Step("deliver", u(DAY, 6 * DAY), lambda o, r: o.deliver())]
    roll = rng.random()
    if roll < 0.03:
        return [
            Step("fail_payment", u(MINUTE, 10 * MINUTE), _fail),
            Step("cancel", u(DAY, 2 * DAY), _cancel("payment_failed")),
        ]
    if roll < 0.05:
        return [
            Step("fail_payment", u(MINUTE, 10 * MINUTE), _fail),
            Step("pay", u(10 * MINUTE, 2 * HOUR), _pay),
            *shipping,
        ]
    if roll < 0.09:
        return [Step("cancel", u(10 * MINUTE, DAY), _cancel("customer_request"))]
    if roll < 0.11:
        return [pay, Step("cancel", u(HOUR, DAY), _cancel("customer_request"))]
    steps = [Step("confirm", u(MINUTE, 30 * MINUTE), lambda o, r: o.confirm())] if rng.random() < 0.5 else []
    steps += [pay, *shipping]
    if rng.random() < 0.03:
        steps.append(Step("refund", u(3 * DAY, 20 * DAY), lambda o, r: o.refund("customer_return")))
    return steps
