"""Placed-but-unpaid orders expire and give their stock back — on the real store, through
the ``expiring_orders`` index; a paid order stays; an idle expirer reads nothing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from shared.events import utc_now
from shared.settings import CommandApiSettings

from command_api.application import placement
from command_api.application.handlers import Target
from command_api.bootstrap import CommandSide, bootstrap
from command_api.domain.order import Order
from merchant_testkit.plugin import own_namespace_fixtures
from tests.integration.test_reservations import MERCHANT, ctx, new_product, place, stock_of

pytestmark = pytest.mark.integration
server_env, settings, mongo_db = own_namespace_fixtures()  # it reads every placement of its database


@pytest.fixture
async def side(mongo_db, settings) -> AsyncIterator[CommandSide]:
    command_settings = CommandApiSettings(
        **dict(settings), order_expiry_seconds=0.5, relay_interval_seconds=0.1, immediate_publish=False
    )
    side = bootstrap(command_settings, db=mongo_db)
    await side.prepare()
    yield side
    await side.close()


async def test_an_unpaid_order_expires_and_its_stock_returns(side):
    product = await new_product(side, 5)
    unpaid = await placement.place_order(place((product, 2)), Target(ctx()), side.services)
    paid = await placement.place_order(place((product, 1)), Target(ctx()), side.services)
    await side.repository.change(Order, paid.aggregate_id, ctx(), lambda o: o.pay("ref-1"))
    assert await stock_of(side, product) == 2

    expirer = asyncio.create_task(side.expirer.run())
    try:
        deadline = time.monotonic() + 30  # generous: the machine may be busy
        later = utc_now() + timedelta(days=1)
        while await stock_of(side, product) != 4 or await side.store.placed_before(later):
            assert time.monotonic() < deadline, "the unpaid order's 2 units never came back"
            await asyncio.sleep(0.1)
        passes = side.expirer.passes
        await asyncio.sleep(1.0)
        assert side.expirer.passes == passes  # nothing placed: no deadline, no pass, no read
    finally:
        expirer.cancel()

    side.repository.forget(unpaid.aggregate_id)
    expired = await side.repository.load(Order, unpaid.aggregate_id, MERCHANT)
    assert expired is not None and expired.status == "expired"
    events = await side.store.load(unpaid.aggregate_id)
    assert events[-1].type == "OrderExpired" and events[-1].data["unpaid_for_seconds"] >= 0
    side.repository.forget(paid.aggregate_id)
    still_paid = await side.repository.load(Order, paid.aggregate_id, MERCHANT)
    assert still_paid is not None and still_paid.status == "paid"
    releases = [e for e in await side.store.load(product) if e.type == "StockReleased"]
    assert [(e.data["order_id"], e.data["reason"]) for e in releases] == [(unpaid.aggregate_id, "order_expired")]
    assert await side.store.placed_before(later) == []  # both looked at: never read again
