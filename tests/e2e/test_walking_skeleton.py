"""Command → event store → Kafka → projector → read model → query API, on the real stack."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from shared.read_models import CATALOG_PRODUCTS

pytestmark = pytest.mark.e2e


def product_body(**overrides) -> dict:
    body = {
        "sku": f"SKU-{uuid.uuid4().hex[:8]}",
        "name": "Walking Boots",
        "category": "shoes",
        "price": {"amount": 8999, "currency": "EUR"},
        "stock": 12,
    }
    body.update(overrides)
    return body


async def wait_for(query_client, path: str, timeout: float = 15.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        response = await query_client.get(path)
        if response.status_code == 200 or asyncio.get_running_loop().time() > deadline:
            return response
        await asyncio.sleep(0.05)


async def test_created_product_is_served_by_the_query_api(command_client, query_client, merchant):
    body = product_body()
    response = await command_client.post(
        "/v1/products", json=body, headers={"Authorization": f"Bearer {merchant['secret_key']}"}
    )
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["version"] == 1
    assert response.headers["location"].endswith(f"/v1/products/{accepted['id']}")

    served = await wait_for(query_client, f"/v1/products/{accepted['id']}")
    assert served.status_code == 200, served.text
    product = served.json()
    assert product["sku"] == body["sku"]
    assert product["price"] == body["price"]
    assert product["stock_status"] == "in_stock"
    assert product["merchant_id"] == merchant["merchant_id"]
    assert product["version"] == 1


async def test_draft_product_stays_off_the_storefront(command_client, query_client, merchant, mongo_db):
    response = await command_client.post(
        "/v1/products", json=product_body(status="draft"), headers={"Authorization": f"Bearer {merchant['secret_key']}"}
    )
    assert response.status_code == 202
    # Projected (a hidden catalogue document), so the 404 below is the storefront hiding it,
    # not the projection lagging behind (a sleep let a busy machine pass this vacuously).
    deadline = asyncio.get_running_loop().time() + 30
    while (projected := await mongo_db[CATALOG_PRODUCTS].find_one({"_id": response.json()["id"]})) is None:
        assert asyncio.get_running_loop().time() < deadline, "the draft was not projected within 30 s"
        await asyncio.sleep(0.1)
    assert projected["visible"] is False
    served = await query_client.get(f"/v1/products/{response.json()['id']}")
    assert served.status_code == 404
    assert served.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("content", "headers", "status", "code"),
    [
        (b'{"sku": "A1", "name": ', {"Content-Type": "application/json"}, 400, "malformed_json"),
        (b'{"sku": "A1"}', {"Content-Type": "application/json"}, 422, "validation_failed"),
        (b"[1, 2]", {"Content-Type": "application/json"}, 422, "validation_failed"),
        (b"", {"Content-Type": "application/json"}, 400, "malformed_json"),
        (b'{"a":1}', {"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
        (b'{"x": "' + b"y" * 70_000 + b'"}', {"Content-Type": "application/json"}, 413, "payload_too_large"),
    ],
)
async def test_bad_input_gets_a_clear_4xx(command_client, merchant, content, headers, status, code):
    response = await command_client.post(
        "/v1/products", content=content, headers={**headers, "Authorization": f"Bearer {merchant['secret_key']}"}
    )
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


async def test_missing_fields_are_named(command_client, merchant):
    response = await command_client.post(
        "/v1/products",
        json={"sku": "A1", "colour": "red"},
        headers={"Authorization": f"Bearer {merchant['secret_key']}"},
    )
    assert response.status_code == 422
    fields = {f["field"] for f in response.json()["error"]["fields"]}
    assert {"name", "category", "price", "colour"} <= fields


@pytest.mark.parametrize("authorization", [None, "Bearer sk_not_a_key", "Basic abc"])
async def test_no_or_invalid_key_is_401(command_client, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = await command_client.post("/v1/products", json=product_body(), headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] in ("unauthenticated", "invalid_api_key", "invalid_authorization")


async def test_publishable_key_cannot_create_products(command_client, merchant):
    response = await command_client.post(
        "/v1/products", json=product_body(), headers={"Authorization": f"Bearer {merchant['publishable_key']}"}
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "key_not_allowed"


async def test_duplicate_sku_is_409(command_client, merchant):
    auth = {"Authorization": f"Bearer {merchant['secret_key']}"}
    body = product_body()
    assert (await command_client.post("/v1/products", json=body, headers=auth)).status_code == 202
    again = await command_client.post("/v1/products", json={**body, "name": "Other"}, headers=auth)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "sku_taken"


async def test_idempotency_key_replays_the_original_answer(command_client, merchant):
    headers = {"Authorization": f"Bearer {merchant['secret_key']}", "Idempotency-Key": uuid.uuid4().hex}
    body = product_body()
    first, second = await asyncio.gather(
        command_client.post("/v1/products", json=body, headers=headers),
        command_client.post("/v1/products", json=body, headers=headers),
    )
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    other = await command_client.post("/v1/products", json={**body, "name": "Changed"}, headers=headers)
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
