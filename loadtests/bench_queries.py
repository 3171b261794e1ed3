"""Query API benchmark: one run, everything side by side.

    python -m loadtests.bench_queries [--products 500] [--seconds 10] [--mix-requests 20000]

Needs the servers (``merchant infra up``; uses the env of ``merchant infra env``) and
``wrk`` (``apt-get install wrk``). Seeds a throw-away database, runs the apps under
uvicorn in subprocesses (one process each) and prints a Markdown report:

1. requests/s of a cached catalogue page vs a bare Starlette endpoint serving the same
   bytes (wrk, closed loop, same connections);
2. latency of the L1-hit, L2-hit and miss (MongoDB) paths;
3. p50/p99 with 500 requests/s offered (open loop; latency counted from the scheduled
   send time, so queueing is not hidden);
4. the cache hit ratio of a storefront traffic mix (Zipf-distributed product pages, list
   pages and categories, with price-change invalidations published as a projector does).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from shared import mongo
from shared.invalidation import Change, publish
from shared.read_models import CATALOG_PRODUCTS
from shared.redis import open_redis
from shared.settings import ServerSettings

from loadtests.bench.catalogue import seed
from loadtests.raw_http import RawConnection, closed_loop, open_loop
from merchant_testkit.processes import free_port
from merchant_testkit.read_models import CATEGORIES as CATEGORY_NAMES

SORTS = ("newest", "price_asc", "price_desc", "name")


def start(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        args, env={**os.environ, **env}, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True
    )


def wait_ready(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(url)


def query_api(env: dict, log_dir: Path, name: str, **extra: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = start(
        [
            sys.executable,
            "-m",
            "merchant_cli.main",
            "serve",
            "query-api",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        {**env, **extra},
        log_dir / f"{name}.log",
    )
    url = f"http://127.0.0.1:{port}"
    wait_ready(f"{url}/health/ready")
    return proc, url


def wrk(url: str, seconds: int, connections: int = 32) -> float:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", url], capture_output=True, text=True, check=True
    ).stdout
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def timed_gets(client: httpx.AsyncClient, paths: list[str], concurrency: int) -> list[float]:
    queue = list(paths)
    latencies: list[float] = []

    async def worker():
        while queue:
            path = queue.pop()
            t = time.perf_counter()
            response = await client.get(path)
            latencies.append(time.perf_counter() - t)
            assert response.status_code == 200, (path, response.status_code, response.text[:200])

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


def zipf_choice(rng: random.Random, items: list, s: float = 1.1):
    weights = getattr(zipf_choice, "_w", {}).get((len(items), s))
    if weights is None:
        weights = [1 / (k**s) for k in range(1, len(items) + 1)]
        zipf_choice._w = {**getattr(zipf_choice, "_w", {}), (len(items), s): weights}
    return rng.choices(items, weights)[0]


async def storefront_mix(
    client,
    base_url: str,
    redis,
    prefix,
    products: list[dict],
    merchants: list[str],
    requests: int,
    writes_per_second: float,
    seed: int,
) -> dict:
    rng = random.Random(seed)
    product_paths = [f"/v1/products/{p['_id']}" for p in products]
    list_paths = [f"/v1/products?merchant={m}&sort={s}" for m in merchants for s in SORTS]
    list_paths += [f"/v1/products?merchant={m}&category={c}" for m in merchants for c in CATEGORY_NAMES]
    list_paths += [f"/v1/products?sort={s}" for s in SORTS]
    category_paths = [f"/v1/categories?merchant={m}" for m in merchants] + ["/v1/categories"]
    rng.shuffle(product_paths), rng.shuffle(list_paths), rng.shuffle(category_paths)
    before = (await client.get("/health/cache")).json()
    stop = asyncio.Event()

    async def writer():  # invalidations as a projector publishes them for price changes
        while not stop.is_set():
            await asyncio.sleep(1 / writes_per_second)
            p = rng.choice(products)
            await publish(redis, [Change(CATALOG_PRODUCTS, p["merchant_id"], (p["_id"],))], prefix)

    host, port = base_url.split("//")[1].split(":")

    async def reader(n: int):
        conn = await RawConnection(host, int(port)).open()
        try:
            for _ in range(n):
                r = rng.random()
                pool = product_paths if r < 0.6 else list_paths if r < 0.9 else category_paths
                status = await conn.get(zipf_choice(rng, pool))
                assert status == 200, status
        finally:
            conn.close()

    write_task = asyncio.create_task(writer())
    t = time.perf_counter()
    await asyncio.gather(*(reader(requests // 16) for _ in range(16)))
    elapsed = time.perf_counter() - t
    stop.set()
    await write_task
    after = (await client.get("/health/cache")).json()
    lookups = (after["l1_hits"] + after["l1_misses"]) - (before["l1_hits"] + before["l1_misses"])
    loads = after["l3_loads"] - before["l3_loads"]
    return {
        "requests": lookups,
        "l1_hits": after["l1_hits"] - before["l1_hits"],
        "l2_hits": after["l2_hits"] - before["l2_hits"],
        "mongo_loads": loads,
        **{k: after.get(k, 0) - before.get(k, 0) for k in ("l1_misses", "l2_misses", "pages_dropped")},
        "hit_ratio": (lookups - loads) / lookups,
        "seconds": elapsed,
        "writes": int(elapsed * writes_per_second),
    }


async def drop(settings: ServerSettings) -> None:
    client = mongo.open_mongo(settings)
    await client.drop_database(settings.mongodb_database)
    await client.close()
    redis = open_redis(settings)
    keys = [k async for k in redis.scan_iter(f"{settings.kafka_topic_prefix}*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


class Report(list):
    """Lines of the Markdown report, printed as they come (a long run shows progress)."""

    def __iadd__(self, lines):
        for line in lines:
            print(line, flush=True)
        return super().__iadd__(lines)

    def append(self, line):
        print(line, flush=True)
        super().append(line)


async def main(products_n: int, seconds: int, mix_requests: int) -> None:
    run = uuid.uuid4().hex[:8]
    env = {
        "MONGODB_DATABASE": f"bench_q_{run}",
        "KAFKA_TOPIC_PREFIX": f"bench_q_{run}.",
        "QUERY_API_RATE_LIMIT_PER_SECOND": "1000000",
        "QUERY_API_RATE_LIMIT_BURST": "1000000",
    }
    settings = ServerSettings(
        **{
            **{k.lower(): v for k, v in os.environ.items() if k in ("MONGODB_URL", "REDIS_URL")},
            "mongodb_database": env["MONGODB_DATABASE"],
            "kafka_topic_prefix": env["KAFKA_TOPIC_PREFIX"],
        }
    )
    logs = Path(tempfile.mkdtemp(prefix="bench_queries_"))
    procs: list[subprocess.Popen] = []
    report = Report()
    try:
        products, merchants = await seed(settings, products_n, 10)
        a, a_url = query_api(env, logs, "query-a")
        procs.append(a)
        page = f"/v1/products?merchant={merchants[0]}&limit=20"
        body = httpx.get(a_url + page).content
        body_file = logs / "page.json"
        body_file.write_bytes(body)
        bare_port = free_port()
        procs.append(
            start(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "loadtests.bare_app:create_app",
                    "--factory",
                    "--port",
                    str(bare_port),
                    "--log-level",
                    "warning",
                    "--no-access-log",
                ],
                {"BENCH_BODY_FILE": str(body_file)},
                logs / "bare.log",
            )
        )
        bare_url = f"http://127.0.0.1:{bare_port}/page"
        wait_ready(bare_url)
        assert httpx.get(bare_url).content == body

        # 1. throughput, alternating so both see the same machine load
        bare, cached = [], []
        for _ in range(2):
            bare.append(wrk(bare_url, seconds))
            cached.append(wrk(a_url + page, seconds))
        ratio = statistics.median(cached) / statistics.median(bare)
        report += [
            f"| | requests/s (wrk, 2 threads, 32 connections, {seconds}s, 2 rounds) |",
            "|---|---|",
            f"| bare Starlette endpoint, same {len(body)}-byte body | {' / '.join(f'{x:.0f}' for x in bare)} |",
            f"| query API, cached catalogue page (L1 hit) | {' / '.join(f'{x:.0f}' for x in cached)} |",
            f"| **ratio (medians)** | **{ratio:.2f}** |",
            "",
        ]

        # 2. L1 hit, L2 hit, miss paths (product by id; process B has an empty L1)
        paths = [f"/v1/products/{p['_id']}" for p in products]
        async with httpx.AsyncClient(base_url=a_url, timeout=60) as client_a:
            await timed_gets(client_a, paths, 8)  # fills L2 (and A's L1)
        b, b_url = query_api(env, logs, "query-b", QUERY_API_WARM_UP_QUERIES="0")
        procs.append(b)
        b_port = int(b_url.rsplit(":", 1)[1])
        l2_lat, l2_rate = await closed_loop("127.0.0.1", b_port, paths)  # B's L1 is empty
        await closed_loop("127.0.0.1", b_port, paths)
        l1_lat, l1_rate = await closed_loop("127.0.0.1", b_port, paths)
        miss_paths = [f"{p}?fields=id,name,price" for p in paths[:100]]  # keys nobody loaded
        miss_lat, miss_rate = await closed_loop("127.0.0.1", b_port, miss_paths)
        stats_b = httpx.get(f"{b_url}/health/cache").json()
        report += [
            "| path (product by id, raw keep-alive client, 8 connections) | requests/s | p50 ms | p99 ms |",
            "|---|---|---|---|",
        ]
        for name, lat, rate in (
            ("L1 hit", l1_lat, l1_rate),
            ("L2 hit (Redis)", l2_lat, l2_rate),
            ("miss (MongoDB/FerretDB)", miss_lat, miss_rate),
        ):
            report.append(f"| {name} | {rate:.0f} | {pct(lat, 0.5) * 1000:.2f} | {pct(lat, 0.99) * 1000:.2f} |")
        report += [
            "",
            f"Process B counters: L1 hits {stats_b['l1_hits']}, L2 hits {stats_b['l2_hits']}, "
            f"MongoDB loads {stats_b['l3_loads']}.",
            "",
        ]

        # 3. open loop at 500 requests/s on cached catalogue pages
        lists = [f"/v1/products?merchant={m}&sort={s}" for m in merchants for s in SORTS]
        async with httpx.AsyncClient(base_url=a_url, timeout=60) as client_a:
            await timed_gets(client_a, lists, 8)
        port = int(a_url.rsplit(":", 1)[1])
        loop_result = await open_loop("127.0.0.1", port, lists, 500, seconds)
        report += [
            f"Open loop, 500 requests/s offered for {seconds}s on {len(lists)} cached list pages "
            f"(raw keep-alive client, 32 connections; achieved {loop_result['achieved']:.0f}/s): "
            f"p50 **{loop_result['p50'] * 1000:.2f} ms**, p99 **{loop_result['p99'] * 1000:.2f} ms**, "
            f"{loop_result['errors']} errors of {loop_result['sent']}.",
            "",
        ]

        # 4. storefront mix on a fresh process (warm-up on), with price changes published
        redis = open_redis(settings)
        c, c_url = query_api(env, logs, "query-c")
        procs.append(c)
        async with httpx.AsyncClient(base_url=c_url, timeout=60, limits=httpx.Limits(max_connections=32)) as client_c:
            cold = await storefront_mix(
                client_c,
                c_url,
                redis,
                env["KAFKA_TOPIC_PREFIX"],
                products,
                merchants,
                mix_requests,
                writes_per_second=2,
                seed=5,
            )
            mix = await storefront_mix(
                client_c,
                c_url,
                redis,
                env["KAFKA_TOPIC_PREFIX"],
                products,
                merchants,
                mix_requests,
                writes_per_second=2,
                seed=6,
            )
        await redis.aclose()
        report += [
            f"Storefront mix ({mix['requests']} requests: 60 % product pages, 30 % list pages, "
            f"10 % categories, Zipf s=1.1 over {len(products)} products / "
            f"{len(merchants) * (len(CATEGORY_NAMES) + len(SORTS)) + len(SORTS)} lists; "
            f"{mix['writes']} price-change invalidations during the run; measured after a first "
            f"pass of the same mix from a cold process, whose own ratio was "
            f"{cold['hit_ratio'] * 100:.1f} %): "
            f"L1 hits {mix['l1_hits']} / misses {mix['l1_misses']}, L2 hits {mix['l2_hits']} / "
            f"misses {mix['l2_misses']}, MongoDB loads {mix['mongo_loads']} "
            f"({mix['pages_dropped']} list pages dropped by precise invalidation) "
            f"→ **hit ratio {mix['hit_ratio'] * 100:.1f} %**.",
            "",
        ]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=15)
        await drop(settings)
        print(f"(logs: {logs})", file=sys.stderr)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=500)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--mix-requests", type=int, default=20_000)
    options = parser.parse_args()
    asyncio.run(main(options.products, options.seconds, options.mix_requests))
