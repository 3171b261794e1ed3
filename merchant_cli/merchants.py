"""``merchant merchants create|rotate-keys``: register merchants and manage their keys.

Keys are printed once and stored hashed. The write side comes from ``bootstrap`` (as
for the API); the merchant's events are appended to the event store, and a command
API's relay (or ``merchant serve outbox-relay``) puts them on ``merchants.events``.
Revoked keys are announced on Redis (``shared.key_revocation``): running API processes
refuse them at once, or within their key cache's 30 s TTL if Redis cannot be reached (a
warning says so).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import typer

if TYPE_CHECKING:
    from shared.http.auth import KeyKind

    from command_api.bootstrap import CommandSide

app = typer.Typer(no_args_is_help=True)
T = TypeVar("T")


async def _with_side(action: Callable[[CommandSide], Awaitable[T]]) -> T:
    """Run ``action`` on the write side (``bootstrap``), its indexes created, then close it."""
    from command_api.bootstrap import bootstrap

    side = bootstrap()
    try:
        await side.prepare()
        return await action(side)
    finally:
        await side.close()


async def rotate(merchant_id: str, kinds: list[KeyKind]) -> dict[str, str]:
    """New keys; the old ones revoked in MongoDB, then announced to the API processes."""
    from shared import redis as redis_factory
    from shared.key_revocation import publish_revocation
    from shared.settings import ServerSettings

    keys = await _with_side(lambda side: side.merchants.rotate_keys(merchant_id, kinds))
    settings = ServerSettings()
    redis = redis_factory.open_redis(settings)
    try:
        if not await publish_revocation(redis, merchant_id, kinds, settings.kafka_topic_prefix):
            typer.echo("warning: Redis unreachable; running API processes accept the old keys up to 30 s", err=True)
    finally:
        await redis.aclose()
    return keys


async def create(name: str) -> dict[str, str]:
    merchant = await _with_side(lambda side: side.merchants.create(name))
    return {
        "merchant_id": merchant.merchant_id,
        "name": merchant.name,
        "secret_key": merchant.secret_key,
        "publishable_key": merchant.publishable_key,
    }


async def exists(merchant_id: str) -> bool:
    return await _with_side(lambda side: side.merchants.exists(merchant_id))


@app.command("create")
def create_command(
    name: str = typer.Option(..., "--name", help="The merchant's display name."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Create a merchant; its secret and publishable keys are printed once, stored hashed."""
    result = asyncio.run(create(name))
    if as_json:
        typer.echo(json.dumps(result))
        return
    typer.echo(f"merchant_id:     {result['merchant_id']}")
    typer.echo(f"secret_key:      {result['secret_key']}   (dashboards: keep it secret)")
    typer.echo(f"publishable_key: {result['publishable_key']}   (storefronts)")


@app.command("rotate-keys")
def rotate_keys_command(
    merchant_id: str = typer.Option(..., "--merchant-id", help="The merchant whose keys to replace."),
    kinds: list[str] = typer.Option(["secret", "publishable"], "--kind", help="secret and/or publishable."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Issue new keys and revoke the old ones (printed once, stored hashed)."""
    from command_api.domain.aggregate import DomainError

    bad = [k for k in kinds if k not in ("secret", "publishable")]
    if bad:
        raise typer.BadParameter(f"unknown key kind(s): {', '.join(bad)}", param_hint="--kind")
    chosen: list[KeyKind] = [k for k in ("secret", "publishable") if k in kinds]
    try:
        keys = asyncio.run(rotate(merchant_id, chosen))
    except DomainError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(1) from None
    result = {"merchant_id": merchant_id, **{f"{kind}_key": key for kind, key in keys.items()}}
    if as_json:
        typer.echo(json.dumps(result))
        return
    for field, value in result.items():
        typer.echo(f"{field + ':':<17}{value}")
