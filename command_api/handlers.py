"""Command handlers: load, decide, append. One short function per command."""

from __future__ import annotations

from dataclasses import dataclass

from shared.events import products as ev

from command_api.commands import CreateProduct
from command_api.domain.product import Product
from command_api.event_store import Commit
from command_api.repository import CommandContext, Repository
from command_api.sku_registry import SkuRegistry


@dataclass(frozen=True)
class Services:
    repository: Repository
    skus: SkuRegistry


async def create_product(cmd: CreateProduct, ctx: CommandContext, svc: Services) -> Commit:
    product = Product(ctx.new_aggregate_id(), ctx.merchant_id)
    await svc.skus.claim(ctx.merchant_id, cmd.sku, product.id)
    product.create(ev.ProductCreated(**cmd.model_dump()))
    return await svc.repository.save(product, ctx)
