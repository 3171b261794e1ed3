"""What a downstream team's suite looks like: only the test kit's public fixtures.

No import from the product's packages — ``merchant``, ``command_client``,
``query_client``, ``published_events`` and ``wait_for_projection`` come from the pytest
plugin installed with the package (docs/testing.md).
"""

from __future__ import annotations

import uuid

import pytest


def new_product(**overrides) -> dict:
    return {
        "sku": f"DS-{uuid.uuid4().hex[:8]}",
        "name": "Rain Jacket",
        "category": "outerwear",
        "price": {"amount": 12900, "currency": "EUR"},
        "stock": 4,
        **overrides,
    }


async def test_a_tagged_product_is_published_and_served_with_its_tags(
    merchant, command_client, published_events, wait_for_projection
):
    auth = {"Authorization": f"Bearer {merchant['secret_key']}"}
    accepted = await command_client.post("/v1/products", json=new_product(tags=["rain", "eco"]), headers=auth)
    assert accepted.status_code == 202, accepted.text
    product_id = accepted.json()["id"]

    [event] = await published_events.assert_published(
        "ProductCreated", aggregate_id=product_id, data={"tags": ["rain", "eco"]}
    )
    assert event.schema_version == 2 and event.merchant_id == merchant["merchant_id"]

    served = await wait_for_projection(f"/v1/products/{product_id}", version=1)
    assert served.json()["tags"] == ["rain", "eco"]
    assert served.json()["stock_status"] == "low_stock"


async def test_a_product_without_tags_is_served_with_none(merchant, command_client, wait_for_projection):
    auth = {"Authorization": f"Bearer {merchant['secret_key']}"}
    accepted = await command_client.post("/v1/products", json=new_product(), headers=auth)
    assert accepted.status_code == 202, accepted.text
    served = await wait_for_projection(f"/v1/products/{accepted.json()['id']}", version=1)
    assert served.json()["tags"] == []


async def test_waiting_for_a_version_never_reached_fails_with_what_was_seen(wait_for_projection):
    with pytest.raises(AssertionError, match="404"):
        await wait_for_projection("/v1/products/does-not-exist", version=1, timeout=0.3)
