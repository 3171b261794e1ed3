"""What request instrumentation costs: the same Starlette endpoint bare, with the metrics
middleware, and with the metrics middleware plus the JSON access log.

Calls the ASGI apps directly (no sockets, no HTTP parsing) so the figure is the
middleware's own cost, and interleaves the variants round by round so machine noise hits
all of them alike. Run: ``.venv/bin/python -m loadtests.bench_observability``
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import sys
import time

from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from shared.observability.http import instrument_http
from shared.observability.logs import JsonFormatter
from shared.observability.settings import ObservabilitySettings

REQUESTS_PER_ROUND = 2000
ROUNDS = 15


def make_app(variant: str) -> Starlette:
    async def product(request):
        return Response(b'{"id":"p1","name":"Lamp"}', media_type="application/json")

    app = Starlette(routes=[Route("/v1/products/{product_id}", product)])
    if variant == "bare":
        return app
    return instrument_http(app, f"bench-{variant}", ObservabilitySettings(access_log=variant == "metrics+log"))


SCOPE = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "path": "/v1/products/p1",
    "raw_path": b"/v1/products/p1",
    "query_string": b"",
    "root_path": "",
    "headers": [(b"host", b"bench"), (b"accept", b"application/json")],
    "client": ("127.0.0.1", 1),
    "server": ("127.0.0.1", 80),
}


async def receive():
    return {"type": "http.request", "body": b"", "more_body": False}


async def send(message):
    pass


async def one_round(app) -> float:
    began = time.perf_counter()
    for _ in range(REQUESTS_PER_ROUND):
        await app(dict(SCOPE), receive, send)
    return (time.perf_counter() - began) / REQUESTS_PER_ROUND


async def main() -> None:
    handler = logging.StreamHandler(open("/dev/null", "w"))  # noqa: SIM115 - lives for the run
    handler.setFormatter(JsonFormatter())
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.INFO)
    variants = ["bare", "metrics", "metrics+log"]
    apps = {v: make_app(v) for v in variants}
    for app in apps.values():  # build the middleware stacks; no lifespan needed for this route
        await one_round(app)
    results: dict[str, list[float]] = {v: [] for v in variants}
    for _ in range(ROUNDS):
        for v in variants:
            results[v].append(await one_round(apps[v]))
    base = statistics.median(results["bare"])
    print(f"python {sys.version.split()[0]}, {ROUNDS} rounds x {REQUESTS_PER_ROUND} requests, in-process ASGI")
    print(f"{'variant':<14}{'median µs/req':>15}{'vs bare':>10}{'added µs':>10}")
    for v in variants:
        med = statistics.median(results[v])
        print(f"{v:<14}{med * 1e6:>15.1f}{med / base:>9.2f}x{(med - base) * 1e6:>10.1f}")


if __name__ == "__main__":
    asyncio.run(main())
