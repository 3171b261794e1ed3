"""Handlers on the in-memory adapters: load, decide, append — and what each answers."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from command_api.application import commands as c
from command_api.application import handlers as h
from command_api.application import placement
from command_api.application.handlers import Target
from command_api.application.repository import CommandContext
from command_api.bootstrap import CommandSide, bootstrap_in_memory
from command_api.domain.aggregate import InvalidState, NotFound
from command_api.domain.order import Order
from command_api.domain.product import CurrencyMismatch, Product, SkuTaken

MERCHANT = "m-handlers"


@pytest.fixture
def side() -> CommandSide:
    return bootstrap_in_memory()


def target(aggregate_id: str | None = None, merchant: str = MERCHANT, expected: int | None = None) -> Target:
    return Target(CommandContext(merchant, uuid.uuid4().hex, "corr"), aggregate_id, expected)


def create(sku: str = "SKU-1", **overrides) -> c.CreateProduct:
    body = {"sku": sku, "name": "Mug", "category": "kitchen", "price": {"amount": 1200, "currency": "EUR"}, "stock": 4}
    return c.CreateProduct.model_validate({**body, **overrides})


async def test_create_product_claims_its_sku_and_appends_version_1(side):
    saved = await h.create_product(create(), target(), side.services)
    assert saved.version == 1 and saved.commit is not None
    with pytest.raises(SkuTaken):
        await h.create_product(create(), target(), side.services)
    await h.create_product(create(), target(merchant="another"), side.services)  # SKUs are per merchant


async def test_product_changes_append_one_event_each(side):
    pid = (await h.create_product(create(), target(), side.services)).aggregate_id
    await h.adjust_stock(c.AdjustStock(delta=-3, reason="broken"), target(pid), side.services)
    await h.change_price(
        c.ChangePrice.model_validate({"price": {"amount": 999, "currency": "EUR"}}), target(pid), side.services
    )
    saved = await h.archive_product(c.NoBody(), target(pid), side.services)
    product = await side.repository.load(Product, pid, MERCHANT)
    assert saved.version == 4 and product.stock == 1 and product.price.amount == 999 and product.status == "archived"
    with pytest.raises(InvalidState):
        await h.publish_product(c.NoBody(), target(pid), side.services)


async def test_a_change_that_changes_nothing_answers_the_current_version(side):
    pid = (await h.create_product(create(), target(), side.services)).aggregate_id
    saved = await h.update_product(c.UpdateProductDetails(name="Mug"), target(pid), side.services)
    assert saved.version == 1 and saved.commit is None


async def test_refusals_come_from_the_domain(side):
    pid = (await h.create_product(create(), target(), side.services)).aggregate_id
    with pytest.raises(CurrencyMismatch):
        await h.change_price(
            c.ChangePrice.model_validate({"price": {"amount": 5, "currency": "USD"}}), target(pid), side.services
        )
    with pytest.raises(NotFound):  # another merchant's product is absent, not forbidden
        await h.adjust_stock(c.AdjustStock(delta=1, reason="x"), target(pid, merchant="another"), side.services)


async def test_an_order_moves_through_its_lifecycle(side):
    pid = (await h.create_product(create(), target(), side.services)).aggregate_id
    body = {
        "items": [{"product_id": pid, "quantity": 2}],
        "customer": {"email": "a@b.co"},
        "shipping_address": {"name": "A", "line1": "1", "city": "T", "postal_code": "1", "country": "FR"},
    }
    oid = (await placement.place_order(c.PlaceOrder.model_validate(body), target(), side.services)).aggregate_id
    await h.confirm_order(c.NoBody(), target(oid), side.services)
    await h.pay_order(c.PayOrder(payment_reference="pay_1"), target(oid), side.services)
    await h.ship_order(c.ShipOrder(carrier="DHL", tracking_number="T1"), target(oid), side.services)
    saved = await h.deliver_order(c.NoBody(), target(oid), side.services)
    order = await side.repository.load(Order, oid, MERCHANT)
    assert saved.version == 5 and order.status == "delivered"
    with pytest.raises(InvalidState):
        await placement.cancel_order(c.CancelOrder(), target(oid), side.services)


async def test_a_report_request_is_a_new_aggregate_per_command(side):
    cmd = c.RequestReport(date_from=date(2026, 1, 1), date_to=date(2026, 1, 31))
    first, second = (
        await h.request_report(cmd, target(), side.services),
        await h.request_report(cmd, target(), side.services),
    )
    assert first.aggregate_id != second.aggregate_id and first.version == second.version == 1
