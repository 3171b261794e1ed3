"""Command handlers: load, decide, append. One short function per command.

Every handler has the same signature, ``(command, target, services)``: ``target`` says
which aggregate (``None`` for a new one), which version the client expects (If-Match)
and the command's context. Handlers call the repository, which calls the store: an
endpoint reaches the event store in four calls (tests/unit/test_call_depth.py). The
commands that span aggregates (placing and cancelling orders) are in ``placement``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from shared.events import products as ev
from shared.events import reports as report_events

from command_api.application import commands as c
from command_api.application.ports import EventStorePort, PublisherPort, SkuRegistryPort
from command_api.application.repository import CommandContext, Repository, Saved
from command_api.domain.order import Order
from command_api.domain.product import Product
from command_api.domain.report import Report


@dataclass(frozen=True)
class Services:
    """What handlers use: the repository, the store itself (outcomes), the SKU registry and
    the publisher (settling commits whose follow-up work is done)."""

    repository: Repository
    store: EventStorePort
    skus: SkuRegistryPort
    publisher: PublisherPort | None
    order_placed: Callable[[], None] = lambda: None  # the expirer's deadline (``expiry``)


@dataclass(frozen=True)
class Target:
    ctx: CommandContext
    aggregate_id: str | None = None
    expected_version: int | None = None

    @property
    def id(self) -> str:
        assert self.aggregate_id is not None, "a route with {id}"
        return self.aggregate_id


# -- products ------------------------------------------------------------------------
async def create_product(cmd: c.CreateProduct, t: Target, svc: Services) -> Saved:
    product = Product(t.ctx.new_aggregate_id(), t.ctx.merchant_id)
    product.create(ev.ProductCreated(**cmd.model_dump()))
    # The claim is written alongside the commit's preparation; the commit only if it succeeded.
    return await svc.repository.create(
        product, t.ctx, requires=lambda: svc.skus.claim(t.ctx.merchant_id, cmd.sku, product.id)
    )


async def update_product(cmd: c.UpdateProductDetails, t: Target, svc: Services) -> Saved:
    details = ev.ProductDetailsUpdated(**cmd.model_dump(exclude_unset=True))
    return await svc.repository.change(
        Product, t.id, t.ctx, lambda p: p.update_details(details), expected_version=t.expected_version
    )


async def change_price(cmd: c.ChangePrice, t: Target, svc: Services) -> Saved:
    price = ev.Money(**cmd.price.model_dump())
    return await svc.repository.change(
        Product, t.id, t.ctx, lambda p: p.change_price(price), expected_version=t.expected_version
    )


async def adjust_stock(cmd: c.AdjustStock, t: Target, svc: Services) -> Saved:
    return await svc.repository.change(
        Product, t.id, t.ctx, lambda p: p.adjust_stock(cmd.delta, cmd.reason), expected_version=t.expected_version
    )


async def publish_product(cmd: c.NoBody, t: Target, svc: Services) -> Saved:
    return await svc.repository.change(Product, t.id, t.ctx, Product.publish, expected_version=t.expected_version)


async def unpublish_product(cmd: c.NoBody, t: Target, svc: Services) -> Saved:
    return await svc.repository.change(Product, t.id, t.ctx, Product.unpublish, expected_version=t.expected_version)


async def archive_product(cmd: c.NoBody, t: Target, svc: Services) -> Saved:
    return await svc.repository.change(Product, t.id, t.ctx, Product.archive, expected_version=t.expected_version)


# -- orders (placing and cancelling: ``placement``) -----------------------------------
async def confirm_order(cmd: c.NoBody, t: Target, svc: Services) -> Saved:
    return await svc.repository.change(Order, t.id, t.ctx, Order.confirm, expected_version=t.expected_version)


async def pay_order(cmd: c.PayOrder, t: Target, svc: Services) -> Saved:
    return await svc.repository.change(
        Order, t.id, t.ctx, lambda o: o.pay(cmd.payment_reference), expected_version=t.expected_version
    )


async def record_payment_failure(cmd: c.RecordPaymentFailure, t: Target, svc: Services) -> Saved:
    return await svc.repository.change(
        Order,
        t.id,
        t.ctx,
        lambda o: o.fail_payment(cmd.reason, cmd.payment_reference),
        expected_version=t.expected_version,
    )


async def ship_order(cmd: c.ShipOrder, t: Target, svc: Services) -> Saved:
    return await svc.repository.change(
        Order, t.id, t.ctx, lambda o: o.ship(cmd.carrier, cmd.tracking_number), expected_version=t.expected_version
    )


async def deliver_order(cmd: c.NoBody, t: Target, svc: Services) -> Saved:
    return await svc.repository.change(Order, t.id, t.ctx, Order.deliver, expected_version=t.expected_version)


async def refund_order(cmd: c.RefundOrder, t: Target, svc: Services) -> Saved:
    return await svc.repository.change(
        Order, t.id, t.ctx, lambda o: o.refund(cmd.reason), expected_version=t.expected_version
    )


# -- reports -------------------------------------------------------------------------
async def request_report(cmd: c.RequestReport, t: Target, svc: Services) -> Saved:
    report = Report(t.ctx.new_aggregate_id(), t.ctx.merchant_id)
    report.request(report_events.ReportRequested(**cmd.model_dump()))
    return await svc.repository.create(report, t.ctx)
