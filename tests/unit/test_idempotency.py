"""Idempotency-Key over HTTP, on the in-memory adapters: the command's own record is the
key's record (docs/api.md)."""

from __future__ import annotations

import asyncio
from collections import Counter

from command_api.application.ports import Commit, Outcome
from tests.support.command_side import in_memory_api, order_body, product_body


def records_of(api, command_id_part: str | None = None):
    return list(api.side.store.records.values())


async def test_a_retry_gets_the_original_202_and_acts_once():
    async with in_memory_api() as api:
        product = await api.create_product(stock=1)
        send = lambda: api.client.post(  # noqa: E731
            f"/v1/products/{product}/stock",
            json={"delta": 2, "reason": "in"},
            headers=api.sk(**{"Idempotency-Key": "k"}),
        )
        first, again = await send(), await send()
        assert first.status_code == again.status_code == 202
        assert first.json() == again.json()
        assert again.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
        assert again.headers["etag"] == first.headers["etag"] == '"2"'
        stock_commits = [
            r for r in records_of(api) if isinstance(r, Commit) and r.events[0].type == "ProductStockAdjusted"
        ]
        assert len(stock_commits) == 1 and stock_commits[0].fingerprint is not None
        assert not any(isinstance(r, Outcome) for r in records_of(api))  # a 202 needs no other record


async def test_the_same_key_with_another_body_is_422_for_good():
    async with in_memory_api() as api:
        product = await api.create_product(stock=1)
        key = api.sk(**{"Idempotency-Key": "k"})
        url = f"/v1/products/{product}/stock"
        assert (await api.client.post(url, json={"delta": 1, "reason": "a"}, headers=key)).status_code == 202
        other = await api.client.post(url, json={"delta": 5, "reason": "a"}, headers=key)
        assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
        refused = api.sk(**{"Idempotency-Key": "k2"})  # a key whose first answer was a refusal
        assert (await api.client.post(url, json={"delta": -9, "reason": "a"}, headers=refused)).status_code == 409
        other = await api.client.post(url, json={"delta": 1, "reason": "a"}, headers=refused)
        assert other.status_code == 422


async def test_a_stored_4xx_is_replayed_even_once_the_command_would_succeed():
    async with in_memory_api() as api:
        product = await api.create_product(stock=1)
        url, body = "/v1/orders", order_body((product, 3))
        key = api.pk(**{"Idempotency-Key": "order-1"})
        refused = await api.client.post(url, json=body, headers=key)
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "insufficient_stock"
        restock = {"delta": 10, "reason": "delivery"}
        assert (
            await api.client.post(f"/v1/products/{product}/stock", json=restock, headers=api.sk())
        ).status_code == 202
        again = await api.client.post(url, json=body, headers=key)
        assert again.status_code == 409 and again.json() == refused.json()
        assert again.headers["idempotent-replayed"] == "true"


async def test_a_command_that_changes_nothing_keeps_its_answer():
    async with in_memory_api() as api:
        product = await api.create_product(stock=1)
        key = api.sk(**{"Idempotency-Key": "pub"})
        first = await api.client.post(f"/v1/products/{product}/publish", headers=key)  # already published
        assert first.status_code == 202 and first.json()["version"] == 1
        assert (await api.client.post(f"/v1/products/{product}/unpublish", headers=api.sk())).status_code == 202
        again = await api.client.post(f"/v1/products/{product}/publish", headers=key)
        assert again.json() == first.json()  # the stored answer; the retry did not publish
        assert again.headers["idempotent-replayed"] == "true"


async def test_ten_concurrent_sends_of_one_key_commit_once_with_ten_equal_answers():
    async with in_memory_api() as api:
        body = product_body()
        responses = await asyncio.gather(
            *(
                api.client.post("/v1/products", json=body, headers=api.sk(**{"Idempotency-Key": "same"}))
                for _ in range(10)
            )
        )
        assert {r.status_code for r in responses} == {202}
        assert len({r.content for r in responses}) == 1
        created = [r for r in records_of(api) if isinstance(r, Commit) and r.aggregate_id == responses[0].json()["id"]]
        assert len(created) == 1
        assert Counter(r.headers.get("idempotent-replayed") for r in responses) == {"true": 9, None: 1}


async def test_a_timed_out_key_keeps_its_fingerprint_and_the_same_request_runs_later():
    async with in_memory_api() as api:
        product = await api.create_product(stock=1)
        api.side.settings.__dict__["command_timeout_seconds"] = 0.05
        original = api.side.store.append

        async def slow(record, **options):
            if not (isinstance(record, Outcome) and record.binding):
                await asyncio.sleep(0.2)
            await original(record, **options)

        api.side.store.append = slow  # type: ignore[method-assign]  # a store too slow for the deadline
        key = api.sk(**{"Idempotency-Key": "late"})
        url = f"/v1/products/{product}/stock"
        late = await api.client.post(url, json={"delta": 1, "reason": "a"}, headers=key)
        assert late.status_code == 503 and late.json()["error"]["code"] == "timeout"
        api.side.store.append = original  # type: ignore[method-assign]
        api.side.settings.__dict__["command_timeout_seconds"] = 10
        other = await api.client.post(url, json={"delta": 5, "reason": "a"}, headers=key)
        assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
        again = await api.client.post(url, json={"delta": 1, "reason": "a"}, headers=key)
        assert again.status_code == 202 and "idempotent-replayed" not in again.headers
        replayed = await api.client.post(url, json={"delta": 1, "reason": "a"}, headers=key)
        assert replayed.json() == again.json() and replayed.headers["idempotent-replayed"] == "true"
        assert not [r for r in records_of(api) if isinstance(r, Outcome)]  # the binding made way for the commit


async def test_while_every_attempt_times_out_the_key_still_refuses_another_body():
    async with in_memory_api() as api:
        api.side.settings.__dict__["command_timeout_seconds"] = 0.001
        original = api.side.store.append

        async def slow(record, **options):
            if not (isinstance(record, Outcome) and record.binding):
                await asyncio.sleep(0.05)
            await original(record, **options)

        api.side.store.append = slow  # type: ignore[method-assign]  # nothing finishes within the deadline
        key = api.sk(**{"Idempotency-Key": "never"})
        first, other = product_body(), product_body()
        assert (await api.client.post("/v1/products", json=first, headers=key)).status_code == 503
        reused = await api.client.post("/v1/products", json=other, headers=key)
        assert reused.status_code == 422 and reused.json()["error"]["code"] == "idempotency_key_reused"
        assert (await api.client.post("/v1/products", json=first, headers=key)).status_code == 503  # may run again
