"""Every malformed input is a 4xx with a stable code, never a 500: query parameters,
cursors whatever they hold (even correctly signed), headers, ``Authorization``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import orjson
import pytest

from tests.e2e.commands import auth, product_body
from tests.security.conftest import CURSOR_SECRET, eventually

pytestmark = pytest.mark.security


def error_code(response) -> str:
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    return response.json()["error"]["code"]


@pytest.mark.parametrize(
    "query_string",
    [
        "min_version=%C2%B2",  # "²": str.isdigit() says yes, int() says no
        "min_version=%D9%A1",  # Arabic-Indic one: int() would take it
        "min_version=0",
        "min_version=",
        "min_version=99999999999999999999",
        "min%5Fversion=%C2%B2",
        "fields=%C2%B2",
        "limit=%C2%B2",
    ],
)
async def test_malformed_query_parameters_are_400(query_string, query, product_id):
    response = await query.get(f"/v1/products/{product_id}?{query_string}")
    assert error_code(response) == "invalid_parameter"


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Min-Version": "²".encode()},
        {"X-Min-Version": "abc"},
        {"X-Min-Version": "0"},
    ],
)
async def test_a_malformed_x_min_version_is_400_even_beside_a_valid_min_version(headers, query, product_id):
    alone = await query.get(f"/v1/products/{product_id}", headers=headers)
    assert error_code(alone) == "invalid_parameter"
    beside = await query.get(f"/v1/products/{product_id}?min_version=1", headers=headers)
    assert error_code(beside) == "invalid_parameter"


async def test_min_version_and_x_min_version_must_agree(query, product_id):
    path = f"/v1/products/{product_id}?min_version=1"
    assert (await query.get(path, headers={"X-Min-Version": "1"})).status_code == 200
    disagree = await query.get(path, headers={"X-Min-Version": "2"})
    assert error_code(disagree) == "invalid_parameter"


def signed(payload: bytes) -> str:
    """A cursor signed with the deployment's secret (as if the secret had leaked)."""

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    signature = hmac.new(CURSOR_SECRET.encode(), payload, hashlib.sha256).digest()[:16]
    return f"{b64(payload)}.{b64(signature)}"


def payload_of(cursor: str) -> list:
    text = cursor.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))


async def test_any_cursor_payload_is_a_400(query, catalogue):
    first = await query.get("/v1/products", params={"merchant": catalogue, "limit": 1})
    real = first.json()["next_cursor"]
    sort, fp, (kind, value), last_id = payload_of(real)
    payloads = [
        b"not json",
        b"[]",
        b'"a string"',
        b"{}",
        b"[1, 2, 3, 4]",
        orjson.dumps([sort, fp, ["v", {"$gt": ""}], last_id]),  # an operator where a value goes
        orjson.dumps([sort, fp, ["v", [1, 2]], last_id]),
        orjson.dumps([sort, fp, ["d", "not a date"], last_id]),
        orjson.dumps([sort, fp, ["x", value], last_id]),
        orjson.dumps([sort, fp, ["v", value], {"$ne": None}]),
        orjson.dumps([sort, fp, [kind, value], last_id, "extra"]),
    ]
    for payload in payloads:
        response = await query.get(
            "/v1/products", params={"merchant": catalogue, "limit": 1, "cursor": signed(payload)}
        )
        assert error_code(response) == "invalid_cursor", payload
    for garbage in ("é.é", "a" * 400, "..", "%00"):
        response = await query.get("/v1/products", params={"merchant": catalogue, "cursor": garbage})
        assert error_code(response) == "invalid_cursor", garbage
    # The real one still works.
    assert (
        await query.get("/v1/products", params={"merchant": catalogue, "limit": 1, "cursor": real})
    ).status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        "Bearer  {key}",  # two spaces
        "Bearer\t{key}",
        "Bearer {key} extra",
        "Basic {key}",
        "Bearer",
        "{key}",
        "Bearer {key}\u00e9",
    ],
)
async def test_authorization_is_parsed_strictly(header, command, query, new_merchant):
    merchant = await new_merchant()
    value = header.format(key=merchant["secret_key"]).encode("latin-1")
    for client, method, path in ((command, "POST", "/v1/products"), (query, "GET", "/v1/merchant/orders")):
        response = await client.request(method, path, json=product_body(), headers={"Authorization": value})
        assert response.status_code == 401, (header, path, response.text)
        assert error_code(response) == "invalid_authorization", (header, path)


async def test_the_bearer_scheme_is_case_insensitive(command, new_merchant):
    merchant = await new_merchant()
    for scheme in ("Bearer", "bearer", "BEARER"):
        response = await command.post(
            "/v1/products", json=product_body(), headers={"Authorization": f"{scheme} {merchant['secret_key']}"}
        )
        assert response.status_code == 202, response.text


@pytest.fixture
async def catalogue(command, query, new_merchant) -> str:
    """A merchant with two published products, projected; its id."""
    merchant = await new_merchant()
    for _ in range(2):
        created = await command.post("/v1/products", json=product_body(), headers=auth(merchant["secret_key"]))
        assert created.status_code == 202, created.text

    async def both_listed():
        listed = await query.get("/v1/products", params={"merchant": merchant["merchant_id"]})
        return len(listed.json()["data"]) == 2

    assert await eventually(both_listed)
    return merchant["merchant_id"]


@pytest.fixture
async def product_id(catalogue, query) -> str:
    return (await query.get("/v1/products", params={"merchant": catalogue})).json()["data"][0]["id"]
