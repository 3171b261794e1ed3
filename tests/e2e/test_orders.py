"""The order lifecycle over HTTP, down to what reaches ``orders.events`` on Kafka."""

from __future__ import annotations

import uuid

import pytest

from shared.events import EventEnvelope

from tests.e2e.commands import auth, create_product, load_order, load_product, order_body, product_body, stored_events
from tests.support.kafka_events import read_topic

pytestmark = pytest.mark.e2e


async def place(client, merchant, *items, key=None, **overrides):
    headers = auth(merchant["publishable_key"], **({"Idempotency-Key": key} if key else {}))
    return await client.post("/v1/orders", json=order_body(*items, **overrides), headers=headers)


async def test_a_paid_shipped_order_reaches_kafka_in_the_envelope_in_version_order(
    command_client, merchant, mongo_db, settings
):
    boots = await create_product(command_client, merchant, stock=5, price={"amount": 4500, "currency": "EUR"})
    socks = await create_product(command_client, merchant, stock=5, price={"amount": 700, "currency": "EUR"})
    placed = await place(command_client, merchant, (boots, 2), (socks, 3))
    assert placed.status_code == 202, placed.text
    order_id = placed.json()["id"]
    assert placed.headers["location"].endswith(f"/v1/orders/{order_id}")
    sk = auth(merchant["secret_key"])
    for path, body in [
        ("confirm", None),
        ("pay", {"payment_reference": "pay_123"}),
        ("ship", {"carrier": "UPS", "tracking_number": "1Z999"}),
    ]:
        response = await command_client.post(f"/v1/orders/{order_id}/{path}", json=body, headers=sk)
        assert response.status_code == 202, response.text
    assert response.json()["version"] == 4

    records = await read_topic(
        settings.kafka_bootstrap_servers,
        settings.topic("orders.events"),
        lambda rs: sum(r.key == order_id.encode() for r in rs) >= 4,
    )
    mine = [r for r in records if r.key == order_id.encode()]
    envelopes = [EventEnvelope.from_json(r.value) for r in mine]
    assert [(e.type, e.aggregate_version) for e in envelopes] == [
        ("OrderPlaced", 1),
        ("OrderConfirmed", 2),
        ("OrderPaid", 3),
        ("OrderShipped", 4),
    ]
    assert envelopes == await stored_events(mongo_db, order_id)  # exactly what the store holds
    assert {e.merchant_id for e in envelopes} == {merchant["merchant_id"]}
    assert len({r.partition for r in mine}) == 1
    assert dict(mine[2].headers)["type"] == b"OrderPaid"
    # Prices, names and totals come from the write model, never from the client.
    data = envelopes[0].data
    assert [(line["quantity"], line["unit_price"]["amount"], line["line_total"]) for line in data["lines"]] == [
        (2, 4500, 9000),
        (3, 700, 2100),
    ]
    assert (data["total"], data["item_count"], data["currency"]) == (11100, 5, "EUR")
    assert envelopes[2].data == {"payment_reference": "pay_123", "amount": 11100}
    assert (await load_product(mongo_db, boots, merchant["merchant_id"])).stock == 3


async def test_clients_cannot_send_prices(command_client, merchant):
    product = await create_product(command_client, merchant)
    body = order_body((product, 1))
    body["items"][0]["unit_price"] = 1
    response = await command_client.post("/v1/orders", json=body, headers=auth(merchant["publishable_key"]))
    assert response.status_code == 422
    assert [f["field"] for f in response.json()["error"]["fields"]] == ["items.0.unit_price"]


async def test_invalid_transition_is_409_naming_the_current_state(command_client, merchant):
    product = await create_product(command_client, merchant)
    order_id = (await place(command_client, merchant, (product, 1))).json()["id"]
    response = await command_client.post(
        f"/v1/orders/{order_id}/ship",
        json={"carrier": "UPS", "tracking_number": "1"},
        headers=auth(merchant["secret_key"]),
    )
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "invalid_state" and error["current_state"] == "placed"
    assert "placed" in error["message"]
    refund = await command_client.post(f"/v1/orders/{order_id}/refund", headers=auth(merchant["secret_key"]))
    assert refund.status_code == 409 and refund.json()["error"]["current_state"] == "placed"


async def test_cancel_gives_the_stock_back_and_is_refused_after_shipping(command_client, merchant, mongo_db):
    product = await create_product(command_client, merchant, stock=4)
    sk = auth(merchant["secret_key"])
    first = (await place(command_client, merchant, (product, 3))).json()["id"]
    cancelled = await command_client.post(f"/v1/orders/{first}/cancel", json={"reason": "changed mind"}, headers=sk)
    assert cancelled.status_code == 202, cancelled.text
    stock = await load_product(mongo_db, product, merchant["merchant_id"])
    assert stock.stock == 4 and first not in stock.reservations

    second = (await place(command_client, merchant, (product, 4))).json()["id"]
    for path, body in [("pay", {"payment_reference": "p"}), ("ship", {"carrier": "DHL", "tracking_number": "9"})]:
        assert (await command_client.post(f"/v1/orders/{second}/{path}", json=body, headers=sk)).status_code == 202
    late = await command_client.post(f"/v1/orders/{second}/cancel", json={}, headers=sk)
    assert late.status_code == 409 and late.json()["error"]["current_state"] == "shipped"
    assert (await load_product(mongo_db, product, merchant["merchant_id"])).stock == 0
    refund = await command_client.post(f"/v1/orders/{second}/refund", json={"reason": "lost"}, headers=sk)
    assert refund.status_code == 202
    assert (await load_order(mongo_db, second, merchant["merchant_id"])).status == "refunded"


async def test_payment_failure_is_an_event_and_the_order_stays_payable(command_client, merchant, mongo_db):
    product = await create_product(command_client, merchant)
    order_id = (await place(command_client, merchant, (product, 1))).json()["id"]
    sk = auth(merchant["secret_key"])
    failed = await command_client.post(
        f"/v1/orders/{order_id}/payment-failed",
        json={"reason": "card declined", "payment_reference": "pay_x"},
        headers=sk,
    )
    assert failed.status_code == 202 and failed.json()["version"] == 2
    paid = await command_client.post(f"/v1/orders/{order_id}/pay", json={"payment_reference": "pay_y"}, headers=sk)
    assert paid.status_code == 202 and paid.json()["version"] == 3
    assert [e.type for e in await stored_events(mongo_db, order_id)] == [
        "OrderPlaced",
        "OrderPaymentFailed",
        "OrderPaid",
    ]


async def test_publishable_keys_only_place_orders(command_client, merchant):
    product = await create_product(command_client, merchant)
    order_id = (await place(command_client, merchant, (product, 1))).json()["id"]
    pk = auth(merchant["publishable_key"])
    for path in (f"/v1/orders/{order_id}/confirm", f"/v1/products/{product}/archive"):
        response = await command_client.post(path, headers=pk)
        assert response.status_code == 403, path


async def test_another_merchants_resources_do_not_exist(command_client, merchant, other_merchant):
    product = await create_product(command_client, merchant)
    order_id = (await place(command_client, merchant, (product, 1))).json()["id"]
    theirs = auth(other_merchant["secret_key"])
    for method, path, body in [
        ("PATCH", f"/v1/products/{product}", {"name": "Mine now"}),
        ("POST", f"/v1/products/{product}/stock", {"delta": 5, "reason": "x"}),
        ("POST", f"/v1/orders/{order_id}/confirm", None),
        ("POST", f"/v1/products/{uuid.uuid4()}/publish", None),
    ]:
        response = await command_client.request(method, path, json=body, headers=theirs)
        assert response.status_code == 404, (path, response.text)
        assert response.json()["error"]["code"] == "not_found"
    # Ordering another merchant's product with one's own storefront key: unknown, no leak.
    crossed = await place(command_client, other_merchant, (product, 1))
    assert crossed.status_code == 422
    assert crossed.json()["error"]["code"] == "unknown_product"


async def test_if_match_gives_optimistic_concurrency_to_clients(command_client, merchant):
    product = await create_product(command_client, merchant)
    sk = auth(merchant["secret_key"])
    ok = await command_client.post(
        f"/v1/products/{product}/price",
        json={"price": {"amount": 100, "currency": "EUR"}},
        headers={**sk, "If-Match": '"1"'},
    )
    assert ok.status_code == 202 and ok.json()["version"] == 2 and ok.headers["etag"] == '"2"'
    stale = await command_client.post(
        f"/v1/products/{product}/stock", json={"delta": 1, "reason": "count"}, headers={**sk, "If-Match": "1"}
    )
    assert stale.status_code == 412
    assert stale.json()["error"]["current_version"] == 2
    bad = await command_client.post(f"/v1/products/{product}/publish", headers={**sk, "If-Match": "abc"})
    assert bad.status_code == 400


async def test_product_commands_and_the_archived_rule(command_client, merchant, mongo_db):
    product = await create_product(command_client, merchant, stock=2)
    sk = auth(merchant["secret_key"])
    steps = [
        ("PATCH", "", {"name": "Trail Boots", "attributes": {"colour": "red"}}),
        ("POST", "/stock", {"delta": -2, "reason": "damaged"}),
        ("POST", "/unpublish", None),
        ("POST", "/publish", None),
        ("POST", "/archive", None),
    ]
    for method, suffix, body in steps:
        response = await command_client.request(method, f"/v1/products/{product}{suffix}", json=body, headers=sk)
        assert response.status_code == 202, (suffix, response.text)
    negative = await command_client.post(f"/v1/products/{product}/stock", json={"delta": -1, "reason": "x"}, headers=sk)
    assert negative.status_code == 409 and negative.json()["error"]["current_state"] == "archived"
    assert [e.type for e in await stored_events(mongo_db, product)] == [
        "ProductCreated",
        "ProductDetailsUpdated",
        "ProductStockAdjusted",
        "ProductUnpublished",
        "ProductPublished",
        "ProductArchived",
    ]


async def test_stock_cannot_go_negative_over_http(command_client, merchant):
    product = await create_product(command_client, merchant, stock=1)
    response = await command_client.post(
        f"/v1/products/{product}/stock", json={"delta": -2, "reason": "count"}, headers=auth(merchant["secret_key"])
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "insufficient_stock"


@pytest.mark.parametrize("name", ["a\u0000b", "$where", "a.b"])
async def test_attribute_names_that_cannot_be_stored_are_422_not_500(command_client, merchant, name):
    # Found by schemathesis: a NUL byte in an attribute name made MongoDB's driver raise (500).
    response = await command_client.post(
        "/v1/products", json=product_body(attributes={name: "x"}), headers=auth(merchant["secret_key"])
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["fields"][0]["field"].startswith("attributes.")
