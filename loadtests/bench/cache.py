"""Cached catalogue page (an L1 hit over HTTP) vs a bare Starlette endpoint that returns a
body of the same bytes: what the query API's serving path costs above HTTP itself."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from loadtests.bench.catalogue import page_path, seeded
from loadtests.bench.clients import http
from loadtests.bench.rounds import Pair, Side, closed_loop


@asynccontextmanager
async def pairs(bench, options) -> AsyncIterator[list[Pair]]:
    merchants = await seeded(bench, options.products)
    api = bench.serve("query-api", "query API", QUERY_API_L1_TTL_SECONDS="3600")  # no expiry mid-run
    path = page_path(merchants[0])
    async with httpx.AsyncClient(base_url=api.url) as client:
        body = (await client.get(path)).content  # loads it: every later request is an L1 hit
        hits_before = (await client.get("/health/cache")).json()["l1_hits"]
    body_file = bench.log_dir / "page.json"
    body_file.write_bytes(body)
    bare = bench.uvicorn("loadtests.bare_app:create_app", "bare Starlette (page)", BENCH_BODY_FILE=str(body_file))
    if httpx.get(bare.url + "/page").content != body:
        raise RuntimeError("the bare endpoint does not serve the same bytes")

    def loop(url: str, target: str):
        return closed_loop(
            http(url, lambda: ("GET", target, b"", {}), 200), options.seconds, options.concurrency, bench.zero
        )

    yield [
        Pair(
            "cached catalogue page (L1 hit)",
            "cache",
            "requests/s",
            Side("query API GET /v1/products", loop(api.url, path)),
            Side(f"bare Starlette, same {len(body):,}-byte body", loop(bare.url, "/page")),
        )
    ]
    stats = httpx.get(api.url + "/health/cache").json()
    if stats["l3_loads"] != 1:  # the pair must have measured hits, not loads
        raise RuntimeError(
            f"the cached page was loaded {stats['l3_loads']} times (hits {stats['l1_hits'] - hits_before})"
        )
    bench.stop(api)
    bench.stop(bare)
