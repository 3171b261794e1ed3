"""Storefront reads over HTTP against the real MongoDB and Redis."""

from __future__ import annotations

import gzip

import brotli
import pytest
import zstandard

from shared.read_models import CATALOG_PRODUCTS, CATEGORIES

from merchant_testkit.read_models import product_doc

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def shop(mongo_db) -> dict:
    merchant_id = "m-catalog-reads"
    docs = [product_doc(merchant_id, i) for i in range(60)]
    docs.append(product_doc(merchant_id, 999, visible=False, status="draft"))
    await mongo_db[CATALOG_PRODUCTS].insert_many(docs)
    await mongo_db[CATEGORIES].insert_many(
        [
            {"_id": f"{merchant_id}:shoes", "merchant_id": merchant_id, "category": "shoes", "product_count": 12},
            {"_id": f"{merchant_id}:hats", "merchant_id": merchant_id, "category": "hats", "product_count": 0},
        ]
    )
    return {"merchant_id": merchant_id, "docs": docs}


async def test_list_is_filtered_to_published_products_of_the_merchant(client, shop):
    response = await client.get("/v1/products", params={"merchant": shop["merchant_id"], "limit": 100})
    assert response.status_code == 200, response.text
    ids = {p["id"] for p in response.json()["data"]}
    assert ids == {d["_id"] for d in shop["docs"] if d["visible"]}


async def test_filters_combine(client, shop):
    params = {
        "merchant": shop["merchant_id"],
        "category": "shoes",
        "min_price": 5000,
        "max_price": 15000,
        "in_stock": "true",
        "limit": 100,
    }
    got = {p["id"] for p in (await client.get("/v1/products", params=params)).json()["data"]}
    expected = {
        d["_id"]
        for d in shop["docs"]
        if d["visible"]
        and d["category"] == "shoes"
        and 5000 <= d["price_amount"] <= 15000
        and d["stock_status"] != "out_of_stock"
    }
    assert got == expected and expected


async def test_name_prefix_is_case_insensitive(client, shop):
    got = (
        await client.get(
            "/v1/products", params={"merchant": shop["merchant_id"], "name_prefix": "ALPINE", "limit": 100}
        )
    ).json()["data"]
    expected = {d["_id"] for d in shop["docs"] if d["visible"] and d["name"].startswith("Alpine")}
    assert {p["id"] for p in got} == expected and expected


async def test_matching_if_none_match_is_304(client, shop):
    first = await client.get("/v1/products", params={"merchant": shop["merchant_id"]})
    etag = first.headers["etag"]
    assert first.headers["cache-control"].startswith("public")
    again = await client.get("/v1/products", params={"merchant": shop["merchant_id"]}, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b"" and again.headers["etag"] == etag
    other = await client.get(
        "/v1/products", params={"merchant": shop["merchant_id"]}, headers={"If-None-Match": 'W/"something-else"'}
    )
    assert other.status_code == 200


async def test_gzip_when_asked_and_only_then(client, shop):
    params = {"merchant": shop["merchant_id"], "limit": 50}
    zipped = await client.get("/v1/products", params=params, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert int(zipped.headers["content-length"]) < len(zipped.content)  # httpx decoded it
    plain = await client.get("/v1/products", params=params, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.content == zipped.content
    refused = await client.get("/v1/products", params=params, headers={"Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers


async def test_fields_shrink_the_payload_and_come_from_a_projection(client, shop):
    params = {"merchant": shop["merchant_id"], "limit": 50}
    full = await client.get("/v1/products", params=params, headers={"Accept-Encoding": "identity"})
    slim = await client.get(
        "/v1/products", params={**params, "fields": "id,name,price"}, headers={"Accept-Encoding": "identity"}
    )
    assert slim.status_code == 200
    assert all(set(p) == {"id", "name", "price"} for p in slim.json()["data"])
    assert len(slim.content) < len(full.content) / 2
    assert [p["id"] for p in slim.json()["data"]] == [p["id"] for p in full.json()["data"]]


async def test_unknown_field_or_parameter_is_400(client):
    bad_field = await client.get("/v1/products", params={"fields": "id,password"})
    assert bad_field.status_code == 400
    assert bad_field.json()["error"]["fields"][0]["field"] == "fields"
    unknown = await client.get("/v1/products", params={"colour": "red"})
    assert unknown.status_code == 400
    assert unknown.json()["error"]["code"] == "invalid_parameter"
    too_big = await client.get("/v1/products", params={"limit": 101})
    assert too_big.status_code == 400


async def test_tampered_or_foreign_cursor_is_400(client, shop):
    page = (await client.get("/v1/products", params={"merchant": shop["merchant_id"], "limit": 5})).json()
    cursor = page["next_cursor"]
    payload, sig = cursor.split(".")
    forged = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + sig
    response = await client.get("/v1/products", params={"merchant": shop["merchant_id"], "limit": 5, "cursor": forged})
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_cursor"
    other_sort = await client.get(
        "/v1/products", params={"merchant": shop["merchant_id"], "limit": 5, "cursor": cursor, "sort": "name"}
    )
    assert other_sort.status_code == 400


async def test_offset_pagination_reports_total(client, shop):
    visible = sum(d["visible"] for d in shop["docs"])
    first = (
        await client.get(
            "/v1/products", params={"merchant": shop["merchant_id"], "page": 1, "limit": 25, "sort": "price_asc"}
        )
    ).json()
    last = (
        await client.get(
            "/v1/products", params={"merchant": shop["merchant_id"], "page": 3, "limit": 25, "sort": "price_asc"}
        )
    ).json()
    assert first["total"] == last["total"] == visible and first["total_exact"]
    assert first["has_next"] and not last["has_next"]
    assert len(last["data"]) == visible - 50
    prices = [p["price"]["amount"] for p in first["data"]]
    assert prices == sorted(prices)


async def test_offset_pages_count_only_as_far_as_offsets_go(client, shop, monkeypatch):
    import query_api.application.listing as listing

    monkeypatch.setattr(listing, "MAX_OFFSET", 10)  # pages can show items 1..10 + limit: count no further
    params = {"merchant": shop["merchant_id"], "limit": 5, "sort": "price_desc", "fields": "id"}
    body = (await client.get("/v1/products", params={**params, "page": 2})).json()
    assert (body["total"], body["total_exact"], body["has_next"]) == (15, False, True)
    assert len(body["data"]) == 5
    narrow = (await client.get("/v1/products", params={**params, "page": 1, "max_price": 3000})).json()
    expected = sum(d["visible"] and d["price_amount"] <= 3000 for d in shop["docs"])
    assert expected <= 15 and (narrow["total"], narrow["total_exact"]) == (expected, True)


async def test_product_by_id_and_hidden_product_is_404(client, shop):
    doc = shop["docs"][0]
    got = await client.get(f"/v1/products/{doc['_id']}")
    assert got.status_code == 200 and got.json()["name"] == doc["name"]
    assert "etag" in got.headers
    hidden = await client.get(f"/v1/products/{shop['docs'][-1]['_id']}")
    assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "not_found"


async def test_categories_count_published_products(client, shop):
    body = (await client.get("/v1/categories", params={"merchant": shop["merchant_id"]})).json()
    assert body == {"data": [{"category": "shoes", "product_count": 12}]}


async def test_security_headers_and_cors(client):
    response = await client.get("/v1/categories", headers={"Origin": "https://shop.example"})
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["access-control-allow-origin"] == "*"
    preflight = await client.options(
        "/v1/products", headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "GET"}
    )
    assert preflight.status_code == 204
    assert "GET" in preflight.headers["access-control-allow-methods"]


async def test_openapi_document_is_3_1_and_lists_every_route(client):
    doc = (await client.get("/openapi.json")).json()
    assert doc["openapi"].startswith("3.1")
    assert {
        "/v1/products",
        "/v1/products/{product_id}",
        "/v1/categories",
        "/v1/merchant/products",
        "/v1/merchant/orders",
        "/v1/merchant/orders/{order_id}",
        "/v1/merchant/stats",
    } <= set(doc["paths"])


async def test_gzip_body_on_the_wire_is_the_json_compressed(client, shop):
    params = {"merchant": shop["merchant_id"], "limit": 50}
    plain = await client.get("/v1/products", params=params, headers={"Accept-Encoding": "identity"})
    async with client.stream("GET", "/v1/products", params=params, headers={"Accept-Encoding": "gzip"}) as response:
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
    assert gzip.decompress(raw) == plain.content
    assert len(raw) < len(plain.content) / 2


DECODERS = {
    "gzip": gzip.decompress,
    "br": brotli.decompress,
    "zstd": lambda raw: zstandard.ZstdDecompressor().decompressobj().decompress(raw),
}


@pytest.mark.parametrize(
    ("accept", "coding"),
    [
        ("br", "br"),
        ("zstd", "zstd"),
        ("gzip", "gzip"),
        ("gzip, deflate, br, zstd", "br"),
        ("br;q=0.2, zstd;q=0.9, gzip;q=0.5", "zstd"),
        ("br;q=0, zstd;q=0, gzip", "gzip"),
        ("gzip;q=0.3, identity", None),
    ],
)
async def test_each_encoding_on_the_wire_is_the_json_compressed(client, shop, accept, coding):
    params = {"merchant": shop["merchant_id"], "limit": 50}
    plain = await client.get("/v1/products", params=params, headers={"Accept-Encoding": "identity"})
    for _ in range(2):  # a miss or first use of the coding, then the stored form
        async with client.stream("GET", "/v1/products", params=params, headers={"Accept-Encoding": accept}) as response:
            raw = b"".join([chunk async for chunk in response.aiter_raw()])
        assert response.headers.get("content-encoding") == coding
        assert response.headers["vary"] == "Accept-Encoding"
        assert response.headers["etag"] == plain.headers["etag"]  # one representation's validator
        assert int(response.headers["content-length"]) == len(raw)
        if coding is None:
            assert raw == plain.content
        else:
            assert DECODERS[coding](raw) == plain.content
            assert len(raw) < len(plain.content) / 2


@pytest.mark.parametrize("coding", ["br", "zstd", "gzip"])
async def test_uncached_responses_are_compressed_as_negotiated(client, coding):
    """Responses built outside the cache (here the OpenAPI document) are encoded by the middleware."""
    plain = await client.get("/openapi.json", headers={"Accept-Encoding": "identity"})
    async with client.stream(
        "GET", "/openapi.json", headers={"Accept-Encoding": f"{coding}, identity;q=0.1"}
    ) as response:
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
    assert response.headers["content-encoding"] == coding
    assert "Accept-Encoding" in response.headers["vary"]
    assert DECODERS[coding](raw) == plain.content
    assert len(raw) < len(plain.content) / 2
