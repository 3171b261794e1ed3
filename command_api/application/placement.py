"""Placing and cancelling orders: the commands that span several aggregates.

Each step is one commit on one aggregate; the reservation record
(``command_api.adapters.reservations``) says which step an order is at, so a crash
anywhere leaves something the reconciler can finish. Stock is never oversold because
only the product aggregate decides it, one version at a time (docs/reservations.md).
"""

from __future__ import annotations

import dataclasses

from shared.events import orders as ev

from command_api.application.commands import PlaceOrder
from command_api.application.ports import ReleaseReason, ReservationsPort
from command_api.application.repository import CommandContext, Repository, Saved
from command_api.domain.aggregate import DomainError, NotFound
from command_api.domain.order import Order
from command_api.domain.product import Product


class UnknownProduct(DomainError):
    status = 422
    code = "unknown_product"


class MixedCurrencies(DomainError):
    status = 422
    code = "mixed_currencies"


class OrderNotPlaceable(DomainError):
    code = "order_not_placeable"


async def place_order(cmd: PlaceOrder, ctx: CommandContext, repo: Repository, reservations: ReservationsPort) -> Saved:
    order_id = ctx.new_aggregate_id()
    lines = [item.model_dump() for item in cmd.items]
    record, fresh = await reservations.begin(order_id, ctx.merchant_id, ctx.command_id, ctx.correlation_id, lines)
    if record["state"] in ("placing", "placed"):  # a retry of an order already decided
        return await roll_forward(record, repo)
    if record["state"] != "reserving":
        raise OrderNotPlaceable(
            "This order was rejected or expired; place it again with a new key.", current_state=record["state"]
        )
    step = dataclasses.replace(ctx, keyed=False)  # each step is idempotent by order id
    held: list[str] = []
    try:
        order_lines = []
        for item in cmd.items:
            order_lines.append(await _reserve_line(order_id, item.product_id, item.quantity, step, repo))
            held.append(item.product_id)
        placed = _order_placed(cmd, order_lines)
    except DomainError:
        # Give back what this attempt held (everything, if an earlier attempt may have held more).
        await release(
            record, "order_rejected", repo, reservations, from_state="reserving", only=held if fresh else None
        )
        raise
    moved = await reservations.move(order_id, "reserving", "placing", placed=placed.model_dump(mode="json"))
    if moved is None:  # the reconciler expired it while we were slow: undo our part
        await release(record, "reservation_expired", repo, reservations, from_state="releasing")
        raise OrderNotPlaceable("The reservation expired before the order was placed; retry.", current_state="expired")
    return await roll_forward(moved, repo, reservations)


async def roll_forward(record: dict, repo: Repository, reservations: ReservationsPort | None = None) -> Saved:
    """Append the decided ``OrderPlaced`` (once: its command id is unique) and mark it placed."""
    order = Order(record["_id"], record["merchant_id"])
    order.place(ev.OrderPlaced.model_validate(record["placed"]))
    ctx = CommandContext(record["merchant_id"], record["command_id"], record["correlation_id"])
    saved = await repo.save(order, ctx)
    if reservations is not None:
        await reservations.move(record["_id"], "placing", "placed")
    return saved


async def release(
    record: dict,
    reason: ReleaseReason,
    repo: Repository,
    reservations: ReservationsPort,
    *,
    from_state: str | tuple[str, ...],
    only: list[str] | None = None,
) -> bool:
    """Give every line's units back and mark the record released. Idempotent."""
    order_id = record["_id"]
    if only == []:  # nothing was held: straight to the end
        return await reservations.move(order_id, from_state, "released", release_reason=reason) is not None
    if from_state != "releasing" and not await reservations.move(
        order_id, from_state, "releasing", release_reason=reason
    ):
        return False  # someone else owns this record now
    ctx = CommandContext(record["merchant_id"], record["command_id"], record["correlation_id"])
    for line in record["lines"]:
        if only is not None and line["product_id"] not in only:
            continue
        try:
            await repo.change(
                Product,
                line["product_id"],
                ctx,
                lambda p: p.release(order_id, reason),
                command_id=ctx.sub_command(f"release:{line['product_id']}"),
            )
        except NotFound:
            pass  # an unknown product was never reserved
    await reservations.move(order_id, "releasing", "released")
    return True


async def cancel_order(
    order_id: str,
    reason: str,
    ctx: CommandContext,
    repo: Repository,
    reservations: ReservationsPort,
    expected_version: int | None,
) -> Saved:
    """Cancel, then give the stock back. The record goes to ``releasing`` *before* the
    cancel is appended, so a crash after it leaves work the reconciler finishes."""
    if ctx.keyed and (earlier := await repo.committed(ctx.command_id)):  # a retry after a crash
        record = await reservations.get(order_id)
        if record is not None and record["state"] == "releasing":
            await release(record, "order_cancelled", repo, reservations, from_state="releasing")
        return earlier
    order = await repo.load(Order, order_id, ctx.merchant_id)
    if order is None:
        raise NotFound(f"No order {order_id}.")
    order.cancel(reason)  # refuse an invalid transition before touching anything
    moved = await reservations.move(order_id, ("placing", "placed"), "releasing", release_reason="order_cancelled")
    try:
        saved = await repo.change(Order, order_id, ctx, lambda o: o.cancel(reason), expected_version=expected_version)
    except DomainError:
        if moved is not None:
            await reservations.move(order_id, "releasing", "placed")
        raise
    record = moved or await reservations.get(order_id)
    if record is not None and record["state"] == "releasing":
        await release(record, "order_cancelled", repo, reservations, from_state="releasing")
    return saved


async def _reserve_line(
    order_id: str, product_id: str, quantity: int, ctx: CommandContext, repo: Repository
) -> ev.OrderLine:
    seen: list[Product] = []

    def reserve(product: Product) -> None:
        product.reserve(order_id, quantity)
        seen.append(product)

    try:
        await repo.change(Product, product_id, ctx, reserve, command_id=ctx.sub_command(f"reserve:{product_id}"))
    except NotFound:
        raise UnknownProduct(f"Unknown product {product_id}.", product_id=product_id) from None
    product = seen[-1]
    assert product.price is not None
    return ev.OrderLine(
        product_id=product_id,
        sku=product.sku,
        name=product.name,
        unit_price=product.price,
        quantity=quantity,
        line_total=product.price.amount * quantity,
    )


def _order_placed(cmd: PlaceOrder, lines: list[ev.OrderLine]) -> ev.OrderPlaced:
    currencies = {line.unit_price.currency for line in lines}
    if len(currencies) > 1:
        raise MixedCurrencies(f"An order is paid in one currency; these products use {sorted(currencies)}.")
    return ev.OrderPlaced(
        customer=ev.Customer(**cmd.customer.model_dump()),
        shipping_address=ev.Address(**cmd.shipping_address.model_dump()),
        lines=lines,
        currency=currencies.pop(),
        item_count=sum(line.quantity for line in lines),
        total=sum(line.line_total for line in lines),
    )
