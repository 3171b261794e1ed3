"""The security guards' pure parts, without servers: buckets, strict Authorization, NUL
refusal, cursor payloads, CSV neutralisation, the key cache's revocation."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac

import orjson
import pytest
from starlette.requests import Request

from shared.http.auth import KeyResolver, Principal, bearer_token
from shared.http.body import nul_fields
from shared.http.errors import ApiError
from shared.http.nul_guard import holds_nul
from shared.http.rate_limit import TokenBuckets

from query_api.application.pagination import CursorCodec
from workers.application.reports.build import csv_safe, write_csv


def request_with(authorization: bytes | None) -> Request:
    headers = [(b"authorization", authorization)] if authorization is not None else []
    return Request({"type": "http", "headers": headers, "path": "/", "query_string": b""})


def test_wait_takes_nothing_and_charge_never_goes_below_zero():
    now = [0.0]
    buckets = TokenBuckets(rate=1, burst=2, clock=lambda: now[0])
    assert buckets.wait(b"a") == 0
    buckets.charge(b"a")
    buckets.charge(b"a")
    buckets.charge(b"a")  # already empty: stays at zero, not in debt
    assert buckets.wait(b"a") == pytest.approx(1.0)
    assert buckets.wait(b"a") == pytest.approx(1.0)  # asking took nothing
    now[0] += 1.0
    assert buckets.wait(b"a") == 0


@pytest.mark.parametrize(
    ("header", "token"),
    [(b"Bearer sk_abc", "sk_abc"), (b"bearer sk_abc", "sk_abc"), (b"BEARER sk_abc", "sk_abc"), (None, None)],
)
def test_a_bearer_token_is_read_from_exactly_one_shape(header, token):
    assert bearer_token(request_with(header)) == token


@pytest.mark.parametrize(
    "header", [b"Bearer  sk_abc", b"Bearer\tsk_abc", b"Bearer sk_abc x", b"Basic sk_abc", b"sk_abc", b"Bearer sk_\xe9"]
)
def test_any_other_authorization_is_a_401(header):
    with pytest.raises(ApiError) as error:
        bearer_token(request_with(header))
    assert (error.value.status, error.value.code) == (401, "invalid_authorization")


def test_nul_is_found_in_keys_values_and_nested_lists_and_urls():
    assert nul_fields({"a": "x\x00", "b": [{"c": "ok"}, {"d\x00": 1}], "e": {"f": ["\x00"]}}) == [
        "a",
        "b.1.d\x00",
        "e.f.0",
    ]
    assert nul_fields({"a": "fine", "n": 1}) == []
    assert holds_nul({"path": "/v1/products/a\x00"}) and holds_nul({"path": "/", "query_string": b"q=%00"})
    assert not holds_nul({"path": "/", "query_string": b"q=%2500"})  # a literal "%00", not NUL


def signed(secret: str, payload: bytes) -> str:
    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{b64(payload)}.{b64(hmac.new(secret.encode(), payload, hashlib.sha256).digest()[:16])}"


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"{}",
        b"[1]",
        orjson.dumps(["newest", "fp", ["v", {"$gt": ""}], "p-1"]),
        orjson.dumps(["newest", "fp", ["d", 5], "p-1"]),
        orjson.dumps(["newest", "fp", ["v", 1], ["p-1"]]),
        orjson.dumps(["newest", 7, ["v", 1], "p-1"]),
    ],
)
def test_a_signed_cursor_that_is_not_a_position_is_a_400(payload):
    codec = CursorCodec("s" * 32)
    with pytest.raises(ApiError) as error:
        codec.decode(signed("s" * 32, payload), "newest", "fp")
    assert (error.value.status, error.value.code) == (400, "invalid_cursor")


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_cells_that_start_like_a_formula_are_neutralised(start):
    assert csv_safe(f"{start}1+1") == f"'{start}1+1"
    assert csv_safe("ada@example.com") == "ada@example.com" and csv_safe(-5) == -5
    order = {"_id": "o1", "placed_at": "2026-01-01", "currency": "EUR", "total": 100, "customer_email": "=1+1@x.io"}
    assert "'=1+1@x.io" in write_csv([order]).decode()


class FakeKeys:
    """A MongoDB collection that answers one key, slowly enough to race a revocation."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()

    async def find_one(self, query: dict) -> dict:
        await self.gate.wait()
        return {"merchant_id": "m1", "kind": "secret"}


async def test_a_revocation_drops_cached_keys_and_a_lookup_it_overtook_is_not_cached():
    keys = FakeKeys()
    resolver = KeyResolver({"api_keys": keys})
    keys.gate.set()
    assert await resolver.resolve("sk_one") == Principal("m1", "secret")
    assert resolver.forget_merchant("m1", ("secret",)) == 1
    keys.gate.clear()
    racing = asyncio.create_task(resolver.resolve("sk_one"))
    await asyncio.sleep(0)
    resolver.forget_merchant("m1", ("secret",))  # arrives while the lookup is in flight
    keys.gate.set()
    await racing
    assert resolver.forget_merchant("m1", ("secret",)) == 0  # the raced answer was not cached
