"""Benchmark: accepted commands per second and latency of one command API process,
side by side with a bare Starlette endpoint, in one run on this machine.

    python loadtests/bench_commands.py [--seconds 5] [--rounds 3] [--concurrency 32]

Uses the servers of ``merchant infra env`` (or the defaults), in a database and topics of
its own that it deletes afterwards. Both servers run as one uvicorn process each; the
load generator (httpx, asyncio) runs in this process. Rounds alternate between targets
and the table reports medians over rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shared import mongo  # noqa: E402
from shared.kafka import delete_topics_with_prefix, ensure_topics  # noqa: E402
from shared.settings import ServerSettings  # noqa: E402
from tests.support.processes import free_port  # noqa: E402


def start(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "uvicorn", *args, "--port", str(port), "--log-level",
                                "warning", "--no-access-log"], env={**os.environ, **env}, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(url + "/health/live", timeout=1)
            return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{args} did not start")


async def drive(url: str, make_request, seconds: float, concurrency: int) -> dict:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        async def worker() -> None:
            while time.perf_counter() < deadline:
                method, path, body, headers = make_request()
                began = time.perf_counter()
                response = await client.request(method, path, json=body, headers=headers)
                latencies.append(time.perf_counter() - began)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    accepted = statuses.get(202, 0)
    latencies.sort()
    return {"rps": accepted / elapsed, "p50": latencies[len(latencies) // 2] * 1000,
            "p99": latencies[int(len(latencies) * 0.99)] * 1000, "statuses": statuses}


def scenarios(secret: str, publishable: str, products: list[str]) -> dict:
    sk = {"Authorization": f"Bearer {secret}"}
    pk = {"Authorization": f"Bearer {publishable}"}
    customer = {"email": "bench@example.com"}
    address = {"name": "B", "line1": "1 Road", "city": "Town", "postal_code": "1", "country": "FR"}
    return {
        "bare Starlette endpoint (baseline)": lambda: ("POST", "/v1/accept", {"sku": "x", "n": 1}, {}),
        "POST /v1/products (create)": lambda: ("POST", "/v1/products", {
            "sku": uuid.uuid4().hex[:16], "name": "Bench", "category": "bench",
            "price": {"amount": 1000, "currency": "EUR"}, "stock": 5}, sk),
        "POST /v1/products/{id}/stock": lambda: ("POST", f"/v1/products/{random.choice(products)}/stock",
                                                 {"delta": 1, "reason": "bench"}, sk),
        "POST /v1/orders (1 line, publishable key)": lambda: ("POST", "/v1/orders", {
            "items": [{"product_id": random.choice(products), "quantity": 1}],
            "customer": customer, "shipping_address": address}, pk),
    }


async def main(seconds: float, rounds: int, concurrency: int) -> None:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    env = {"MONGODB_DATABASE": name, "KAFKA_TOPIC_PREFIX": f"{name}."}
    os.environ.update(env)
    settings = ServerSettings()
    await ensure_topics(settings)
    client = mongo.open_mongo(settings)
    db = mongo.database(client, settings)
    processes = []
    try:
        from command_api.merchants import create_indexes, create_merchant

        await create_indexes(db)
        m = await create_merchant(db, "Bench Shop")
        api, api_url = start(["command_api.app:create_app", "--factory"], env)
        bare, bare_url = start(["loadtests.bare_starlette:create_app", "--factory"], env)
        processes += [api, bare]
        async with httpx.AsyncClient(base_url=api_url) as c:
            products = []
            for _ in range(64):
                r = await c.post("/v1/products", headers={"Authorization": f"Bearer {m.secret_key}"}, json={
                    "sku": uuid.uuid4().hex[:12], "name": "Stocked", "category": "bench",
                    "price": {"amount": 500, "currency": "EUR"}, "stock": 1_000_000})
                products.append(r.json()["id"])
        cases = scenarios(m.secret_key, m.publishable_key, products)
        results: dict[str, list[dict]] = {k: [] for k in cases}
        for _ in range(rounds):
            for label, make in cases.items():
                url = bare_url if "baseline" in label else api_url
                results[label].append(await drive(url, make, seconds, concurrency))
        report(results, seconds, rounds, concurrency)
    finally:
        for p in processes:
            p.terminate()
            p.wait(timeout=15)
        await delete_topics_with_prefix(settings)
        await client.drop_database(name)
        await client.close()


def report(results: dict[str, list[dict]], seconds: float, rounds: int, concurrency: int) -> None:
    baseline = statistics.median(r["rps"] for r in results["bare Starlette endpoint (baseline)"])
    print(f"\n{rounds} rounds x {seconds:g} s per target, {concurrency} concurrent clients, medians over rounds\n")
    print("| endpoint | accepted/s | p50 ms | p99 ms | vs baseline | other statuses |")
    print("|---|---:|---:|---:|---:|---|")
    for label, runs in results.items():
        rps = statistics.median(r["rps"] for r in runs)
        other = {s: n for r in runs for s, n in r["statuses"].items() if s != 202}
        print(f"| {label} | {rps:,.0f} | {statistics.median(r['p50'] for r in runs):.1f} | "
              f"{statistics.median(r['p99'] for r in runs):.1f} | {rps / baseline:.2f}x | {other or '-'} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    a = parser.parse_args()
    asyncio.run(main(a.seconds, a.rounds, a.concurrency))
