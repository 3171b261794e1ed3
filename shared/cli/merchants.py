"""``merchant merchants create``: register a merchant and print its keys (shown once)."""

from __future__ import annotations

import asyncio
import json

import typer

app = typer.Typer(no_args_is_help=True)


async def create(name: str) -> dict:
    from command_api.merchants import create_indexes, create_merchant
    from shared import mongo
    from shared.settings import ServerSettings

    settings = ServerSettings()
    client = mongo.open_mongo(settings)
    try:
        db = mongo.database(client, settings)
        await create_indexes(db)
        merchant = await create_merchant(db, name)
    finally:
        await client.close()
    return {"merchant_id": merchant.merchant_id, "name": merchant.name,
            "secret_key": merchant.secret_key, "publishable_key": merchant.publishable_key}


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
