"""Placing and cancelling orders: the commands that span several aggregates.

**Placing** appends one ``StockReserved`` commit per line (on its product: only the
product decides its stock, one version at a time, so nothing is oversold), then the
order's ``OrderPlaced`` commit under the request's command id. The last line's hold and
the order are one append, a chain (``Repository.change_then_create``): the store writes
the order only if that hold was stored, so a one-line order waits for one append. There is no separate
reservation record: each hold commit carries a ``Hold`` intent naming the placement's
command id, and stays unpublished until the placement is decided — ``OrderPlaced``
appended, or the placement refused and its units given back. A hold commit left
unpublished past the reservation TTL (the process died in between) is found by the
relay through the outbox index and undone by ``settlement``: an outcome is stored under
the placement's command id first, so a late ``OrderPlaced`` of a paused request is
refused by the unique index (docs/reservations.md has the whole table).

A refused keyed placement stores its answer *before* giving units back: if another
attempt of the same key placed the order meanwhile, storing fails with that order, and
the units it holds are left alone.

**Cancelling** appends ``OrderCancelled`` carrying a ``Release`` intent (the order's
products), then gives each line's units back; a crash in between is finished by the relay.
**Expiring** (``expiry``: an order not paid in time) is the same with ``OrderExpired``.

Every step is idempotent: a product holds at most one reservation per order (released
at most once), and each release has a command id of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bson import ObjectId

from shared.events import orders as ev

from command_api.application.commands import CancelOrder, OrderItem, PlaceOrder
from command_api.application.handlers import Services, Target
from command_api.application.idempotency import AnswerRecorded, refusal, remember
from command_api.application.ports import Commit, DuplicateCommand, Hold, Record, Release, ReleaseReason
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


@dataclass
class _Attempt:
    """What this attempt appended: its hold commits and the products they hold."""

    hold_commits: list[ObjectId] = field(default_factory=list)
    held: list[str] = field(default_factory=list)


async def place_order(cmd: PlaceOrder, t: Target, svc: Services) -> Saved:
    ctx = t.ctx
    order_id = ctx.new_aggregate_id()
    hold = Hold(
        order_id=order_id,
        command_id=ctx.command_id,
        correlation_id=ctx.correlation_id,
        fingerprint=ctx.fingerprint,
        product_ids=[item.product_id for item in cmd.items],
    )
    attempt = _Attempt()

    def order_of(lines: list[ev.OrderLine]) -> Order:
        order = Order(order_id, ctx.merchant_id)
        order.place(_order_placed(cmd, lines))
        return order

    try:
        lines = []
        for item in cmd.items[:-1]:
            lines.append((await _reserve_line(item, hold, ctx, svc.repository, attempt))[0])
        # The last hold and the order are one append: a chain, the order stored only if its hold is.
        last, saved = await _reserve_line(
            cmd.items[-1], hold, ctx, svc.repository, attempt, place=lambda line: order_of([*lines, line])
        )
        if saved is None:  # an earlier attempt of this key held the last line already: the order alone
            saved = await svc.repository.create(order_of([*lines, last]), ctx)
    except DomainError as refused:
        await _after_refusal(refused, hold, ctx, svc, attempt)
        raise
    except DuplicateCommand as decided:  # another attempt of this key decided first
        await _wind_up(hold, decided.earlier, ctx, svc, attempt)
        raise
    _settle(svc, attempt.hold_commits)
    svc.order_placed()
    return saved


async def _reserve_line(
    item: OrderItem,
    hold: Hold,
    ctx: CommandContext,
    repo: Repository,
    attempt: _Attempt,
    place: Callable[[ev.OrderLine], Order] | None = None,
) -> tuple[ev.OrderLine, Saved | None]:
    """Hold the line's units; with ``place``, append the order it builds in the same chain
    (returned when it was appended)."""
    seen: list[Product] = []
    stored_now: list[Saved] = []

    def reserve(product: Product) -> None:
        product.reserve(hold.order_id, item.quantity)
        seen.append(product)

    def stored(saved: Saved) -> None:
        stored_now.append(saved)
        if saved.commit is not None:
            attempt.hold_commits.append(saved.commit.id)
            attempt.held.append(item.product_id)

    command_id = ctx.sub_command(f"reserve:{item.product_id}")
    placed = None
    for _ in range(2):
        try:
            if place is None:
                stored(
                    await repo.change(
                        Product, item.product_id, ctx, reserve, command_id=command_id, intent=lambda _: hold
                    )
                )
            else:
                _, placed = await repo.change_then_create(
                    Product,
                    item.product_id,
                    ctx,
                    reserve,
                    lambda product: place(_line(item, product)),
                    command_id=command_id,
                    intent=lambda _: hold,
                    stored=stored,
                )
            break
        except NotFound:
            raise UnknownProduct(f"Unknown product {item.product_id}.", product_id=item.product_id) from None
        except DuplicateCommand:
            if stored_now:  # the hold is stored: the order's command id has a record (the caller's to handle)
                raise
            repo.forget(item.product_id)  # an earlier attempt held it, after the state this process knew
    else:
        raise OrderNotPlaceable("The order is being placed by another request; retry.", current_state="placing")
    return _line(item, seen[-1]), placed


def _line(item: OrderItem, product: Product) -> ev.OrderLine:
    assert product.price is not None
    return ev.OrderLine(
        product_id=item.product_id,
        sku=product.sku,
        name=product.name,
        unit_price=product.price,
        quantity=item.quantity,
        line_total=product.price.amount * item.quantity,
    )


async def _after_refusal(
    refused: DomainError, hold: Hold, ctx: CommandContext, svc: Services, attempt: _Attempt
) -> None:
    """Give back what this attempt holds. A keyed placement first stores its refusal:
    that fences the key (no attempt can place the order after it) — or finds the
    attempt that did, whose order keeps its units."""
    if ctx.keyed:
        answer = refusal(refused)
        try:
            await remember(svc.store, ctx, answer)
        except DuplicateCommand as decided:
            await _wind_up(hold, decided.earlier, ctx, svc, attempt)
            raise
        await _wind_up(hold, None, ctx, svc, attempt)
        raise AnswerRecorded(answer) from refused
    await _wind_up(hold, None, ctx, svc, attempt)


async def _wind_up(hold: Hold, decision: Record | None, ctx: CommandContext, svc: Services, attempt: _Attempt) -> None:
    """The placement is decided (``decision``: its record; ``None``: refused by us): give
    back this attempt's holds that the placed order (if any) does not count on, and let
    the hold commits be published."""
    await give_back(svc.repository, ctx, hold.order_id, not_kept_by(decision, attempt.held), "order_rejected")
    _settle(svc, attempt.hold_commits)


def not_kept_by(decision: Record | None, product_ids: list[str]) -> list[str]:
    """The products whose hold for this order must go back, given how it was decided:
    all of them, unless the order was placed — then those not among its lines."""
    if isinstance(decision, Commit) and decision.events and decision.events[0].type == "OrderPlaced":
        kept = {line["product_id"] for line in decision.events[0].data["lines"]}
        return [p for p in product_ids if p not in kept]
    return list(product_ids)


async def give_back(
    repo: Repository,
    ctx: CommandContext,
    order_id: str,
    product_ids: list[str],
    reason: ReleaseReason,
    *,
    publish: bool = True,
) -> list[Commit]:
    """Release the order's units on each product (a no-op where none are held). Each
    release has its own command id (``<ctx command id>:release:<product>``), so two
    actors releasing one line release it once. Returns the commits appended."""
    appended = []
    for product_id in product_ids:
        try:
            saved = await repo.change(
                Product,
                product_id,
                ctx,
                lambda p: p.release(order_id, reason),
                command_id=ctx.sub_command(f"release:{product_id}"),
                publish=publish,
            )
        except (NotFound, DuplicateCommand):
            continue  # never held (unknown product), or released by this command already
        if saved.commit is not None:
            appended.append(saved.commit)
    return appended


def _settle(svc: Services, commit_ids: list[ObjectId]) -> None:
    if commit_ids and svc.publisher is not None:
        svc.publisher.settle(commit_ids)


async def cancel_order(cmd: CancelOrder, t: Target, svc: Services) -> Saved:
    """Cancel, then give the stock back; the cancel commit's ``Release`` intent keeps it
    unpublished until every line is released (the relay finishes it after a crash)."""
    return await end_order(
        svc, t.id, t.ctx, lambda o: o.cancel(cmd.reason), "order_cancelled", expected_version=t.expected_version
    )


async def end_order(
    svc: Services,
    order_id: str,
    ctx: CommandContext,
    decide: Callable[[Order], None],
    reason: ReleaseReason,
    *,
    expected_version: int | None = None,
) -> Saved:
    """Cancel or expire (``decide``), then give the stock back, as above."""

    def release(order: Order) -> Release:
        return Release(order_id=order.id, reason=reason, product_ids=list(order.product_ids))

    saved = await svc.repository.change(Order, order_id, ctx, decide, expected_version=expected_version, intent=release)
    assert saved.commit is not None and isinstance(saved.commit.intent, Release), "ending an order always appends"
    intent = saved.commit.intent
    await give_back(svc.repository, ctx, intent.order_id, intent.product_ids, intent.reason)
    _settle(svc, [saved.commit.id])
    return saved


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
