"""Command handlers: load, decide, append. One short function per command.

Every handler has the same signature, ``(command, target, services)``: ``target`` says
which aggregate (``None`` for a new one), which version the client expects (If-Match)
and the command's context.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.events import products as ev
from shared.events import reports as report_events

from command_api.application import commands as c
from command_api.application import placement
from command_api.application.ports import ReservationsPort, SkuRegistryPort
from command_api.application.repository import CommandContext, Repository, Saved
from command_api.domain.order import Order
from command_api.domain.product import Product
from command_api.domain.report import Report


@dataclass(frozen=True)
class Services:
    repository: Repository
    skus: SkuRegistryPort
    reservations: ReservationsPort


@dataclass(frozen=True)
class Target:
    ctx: CommandContext
    aggregate_id: str | None = None
    expected_version: int | None = None


# -- products ------------------------------------------------------------------------
async def create_product(cmd: c.CreateProduct, t: Target, svc: Services) -> Saved:
    product = Product(t.ctx.new_aggregate_id(), t.ctx.merchant_id)
    await svc.skus.claim(t.ctx.merchant_id, cmd.sku, product.id)
    product.create(ev.ProductCreated(**cmd.model_dump()))
    return await svc.repository.save(product, t.ctx)


async def _change_product(t: Target, svc: Services, decide) -> Saved:
    assert t.aggregate_id is not None
    return await svc.repository.change(Product, t.aggregate_id, t.ctx, decide, expected_version=t.expected_version)


async def update_product(cmd: c.UpdateProductDetails, t: Target, svc: Services) -> Saved:
    details = ev.ProductDetailsUpdated(**cmd.model_dump(exclude_unset=True))
    return await _change_product(t, svc, lambda p: p.update_details(details))


async def change_price(cmd: c.ChangePrice, t: Target, svc: Services) -> Saved:
    price = ev.Money(**cmd.price.model_dump())
    return await _change_product(t, svc, lambda p: p.change_price(price))


async def adjust_stock(cmd: c.AdjustStock, t: Target, svc: Services) -> Saved:
    return await _change_product(t, svc, lambda p: p.adjust_stock(cmd.delta, cmd.reason))


async def publish_product(cmd: c.NoBody, t: Target, svc: Services) -> Saved:
    return await _change_product(t, svc, Product.publish)


async def unpublish_product(cmd: c.NoBody, t: Target, svc: Services) -> Saved:
    return await _change_product(t, svc, Product.unpublish)


async def archive_product(cmd: c.NoBody, t: Target, svc: Services) -> Saved:
    return await _change_product(t, svc, Product.archive)


# -- orders --------------------------------------------------------------------------
async def place_order(cmd: c.PlaceOrder, t: Target, svc: Services) -> Saved:
    return await placement.place_order(cmd, t.ctx, svc.repository, svc.reservations)


async def _change_order(t: Target, svc: Services, decide) -> Saved:
    assert t.aggregate_id is not None
    return await svc.repository.change(Order, t.aggregate_id, t.ctx, decide, expected_version=t.expected_version)


async def confirm_order(cmd: c.NoBody, t: Target, svc: Services) -> Saved:
    return await _change_order(t, svc, Order.confirm)


async def pay_order(cmd: c.PayOrder, t: Target, svc: Services) -> Saved:
    return await _change_order(t, svc, lambda o: o.pay(cmd.payment_reference))


async def record_payment_failure(cmd: c.RecordPaymentFailure, t: Target, svc: Services) -> Saved:
    return await _change_order(t, svc, lambda o: o.fail_payment(cmd.reason, cmd.payment_reference))


async def ship_order(cmd: c.ShipOrder, t: Target, svc: Services) -> Saved:
    return await _change_order(t, svc, lambda o: o.ship(cmd.carrier, cmd.tracking_number))


async def deliver_order(cmd: c.NoBody, t: Target, svc: Services) -> Saved:
    return await _change_order(t, svc, Order.deliver)


async def cancel_order(cmd: c.CancelOrder, t: Target, svc: Services) -> Saved:
    assert t.aggregate_id is not None
    return await placement.cancel_order(
        t.aggregate_id, cmd.reason, t.ctx, svc.repository, svc.reservations, t.expected_version
    )


async def refund_order(cmd: c.RefundOrder, t: Target, svc: Services) -> Saved:
    return await _change_order(t, svc, lambda o: o.refund(cmd.reason))


# -- reports -------------------------------------------------------------------------
async def request_report(cmd: c.RequestReport, t: Target, svc: Services) -> Saved:
    report = Report(t.ctx.new_aggregate_id(), t.ctx.merchant_id)
    report.request(report_events.ReportRequested(**cmd.model_dump()))
    return await svc.repository.save(report, t.ctx)
