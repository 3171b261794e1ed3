"""Operability on the real stack: /metrics (on each process's ops listener) moves with
traffic on every process — every metric a Grafana panel plots (``infra/grafana``) among
them —, the query API's cache counters equal its ``/health/cache``, and one command's
correlation id shows up in the logs of the command API, the projector and the worker that
handled its event.

Its own set of processes (own consumer groups, JSON logs in files, metrics ports) and its
own database, so it does not depend on how the shared ``stack`` fixture evolves and the
two projector groups never write the same read models. (They must not: re-applying an
event on FerretDB v1.24 makes pymongo's bulk_write raise KeyError 'nModified' instead of
a duplicate-key BulkWriteError — see projectors/adapters/bulk.py.)
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from shared.events import EventEnvelope

from tests.support.processes import Service, free_port, http_service

pytestmark = pytest.mark.e2e

PROJECTOR_GROUPS = "obs-projectors"
WORKER_GROUPS = "obs-workers"
DASHBOARD = Path(__file__).resolve().parents[2] / "infra" / "grafana" / "merchant-dashboard.json"
QUERY_API_IN_FLIGHT_LIMIT = 4  # low, so a burst of cache misses is shed (503) and counted
# How long a read-your-writes read holds its slot: the burst below must be answered within
# it, from the moment the slots are seen taken — seconds on a loaded two-core machine.
QUERY_API_MIN_VERSION_WAIT = 10.0


@dataclass
class Observed:
    command_api: Service
    query_api: Service
    projectors: Service
    workers: Service

    @property
    def services(self) -> list[Service]:
        return [self.command_api, self.query_api, self.projectors, self.workers]


def stream_with_metrics(name: str, env: dict[str, str], log_dir) -> Service:
    port = free_port()
    return Service(
        name,
        [name],
        {**env, "MERCHANT_METRICS_PORT": str(port)},
        log_dir / f"{name}.log",
        url=f"http://127.0.0.1:{port}",
        ops_url=f"http://127.0.0.1:{port}",
    )


@pytest.fixture(scope="module")
def obs_database(server_env) -> str:
    return f"{server_env['MONGODB_DATABASE']}_obs"


@pytest.fixture(scope="module")
async def merchant(settings, obs_database) -> dict:
    from shared import mongo

    from command_api.bootstrap import bootstrap

    client = mongo.open_mongo(settings)
    db = client[obs_database]
    side = bootstrap(db=db)
    await side.prepare()
    created = await side.merchants.create("Observed Shop")
    yield {"merchant_id": created.merchant_id, "secret_key": created.secret_key}
    await client.drop_database(obs_database)
    await client.close()


@pytest.fixture(scope="module")
def observed(server_env, settings, obs_database, tmp_path_factory):
    logs = tmp_path_factory.mktemp("observability")
    env = {
        **server_env,
        "MONGODB_DATABASE": obs_database,
        "PROJECTOR_GROUP_ID": PROJECTOR_GROUPS,
        "WORKER_GROUP_PREFIX": WORKER_GROUPS,
        "MERCHANT_LOG_FORMAT": "json",
        "MERCHANT_MEMORY_INTERVAL_SECONDS": "0.5",
        # A young process on a busy machine grows steadily for minutes (8-13 MB/min seen),
        # which the 10 s window reads as a leak; the leak rule has unit tests of its own.
        "MERCHANT_MEMORY_LEAK_BYTES_PER_MINUTE": str(1024**3),
        "COMMAND_API_RELAY_INTERVAL_SECONDS": "0.5",
        "COMMAND_API_RELAY_GRACE_SECONDS": "1",
        # One client sends the storefront traffic below: no per-address limit in the way.
        "QUERY_API_RATE_LIMIT_PER_SECOND": "100000",
        "QUERY_API_RATE_LIMIT_BURST": "100000",
        "QUERY_API_MAX_CONCURRENT_REQUESTS": str(QUERY_API_IN_FLIGHT_LIMIT),
        "QUERY_API_MIN_VERSION_WAIT_SECONDS": str(QUERY_API_MIN_VERSION_WAIT),
        # Nothing listens there: every SMS attempt fails, is retried, then dead-lettered.
        "WORKER_SMS_SINK": f"http://127.0.0.1:{free_port()}/sms",
        "WORKER_RETRY_BASE_DELAY_SECONDS": "0.2",
        "WORKER_RETRY_MAX_DELAY_SECONDS": "1",
    }
    query_api = http_service("query-api", "query-api", env, logs)
    env["QUERY_API_URL"] = query_api.url  # the workers warm this one's cache
    running = Observed(
        http_service("command-api", "command-api", env, logs),
        query_api,
        stream_with_metrics("projectors", env, logs),
        stream_with_metrics("workers", env, logs),
    )
    for service in running.services:
        service.start()
    try:
        for service in running.services:
            service.wait_ready()
        yield running
    finally:
        for service in running.services:
            service.stop()


Samples = dict[tuple[str, frozenset], float]


def metrics_url(service: Service) -> str:
    """Where the service serves /metrics: its ops listener, never its public port."""
    assert service.ops_url, f"{service} has no ops listener"
    return service.ops_url


async def scrape(service: Service) -> Samples:
    async with httpx.AsyncClient(timeout=5) as client:
        response = await client.get(f"{metrics_url(service)}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


async def metric_types(service: Service) -> dict[str, str]:
    """Family name -> type (counter, gauge, histogram...) as the service declares them."""
    async with httpx.AsyncClient(timeout=5) as client:
        text = (await client.get(f"{metrics_url(service)}/metrics")).text
    return {family.name: family.type for family in text_string_to_metric_families(text)}


def dashboard_metrics() -> set[str]:
    """Every metric family a panel of the Grafana dashboard plots."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    exprs = " ".join(t["expr"] for p in panels for t in p.get("targets", ()))
    from shared.observability import metrics

    declared = {
        m._name for m in vars(metrics).values() if hasattr(m, "_name") and hasattr(m, "_type")
    }  # the families of shared/observability/metrics.py
    used = set()
    for token in re.findall(r"[a-z_]+", exprs):
        family = re.sub(r"_(bucket|count|sum)$", "", token)
        family = family.removesuffix("_total") if family not in declared else family
        if family in declared:
            used.add(family)
        elif token.startswith("merchant_") or token.endswith(("_total", "_seconds", "_bytes", "_bucket")):
            raise AssertionError(f"the dashboard plots {token}, which shared/observability/metrics.py does not declare")
    return used


def value(samples: Samples, name: str, **labels) -> float | None:
    """The sum over every sample of ``name`` whose labels include ``labels``; None if none."""
    wanted = set(labels.items())
    found = [v for (n, ls), v in samples.items() if n == name and wanted <= ls]
    return sum(found) if found else None


async def eventually(check, timeout: float = 60.0):  # generous: CI shares two cores
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result or asyncio.get_running_loop().time() > deadline:
            return result
        await asyncio.sleep(0.2)


def product_body() -> dict:
    return {
        "sku": f"OBS-{uuid.uuid4().hex[:8]}",
        "name": "Lamp",
        "category": "home",
        "price": {"amount": 2500, "currency": "EUR"},
        "stock": 3,
    }


def order_events(merchant_id: str, product: dict, correlation_id: str) -> list[EventEnvelope]:
    """A valid order's life (placed two hours ago, paid, shipped an hour after placing), as
    the command side would publish it — valid bodies, so any orders projector takes them."""
    from shared.events import orders

    order_id = str(uuid.uuid4())
    placed_at = datetime.now(UTC) - timedelta(hours=2)
    line = orders.OrderLine(
        product_id=product["id"],
        sku=product["sku"],
        name=product["name"],
        unit_price=product["price"],
        quantity=2,
        line_total=5000,
    )
    bodies = [
        (
            orders.OrderPlaced(
                # With a phone: shipping also makes an SMS job, which fails (no gateway), is
                # retried and dead-lettered — the job metrics' failure paths.
                customer=orders.Customer(email="ada@example.com", phone="+33600000000"),
                shipping_address=orders.Address(
                    name="Ada", line1="1 Main St", city="Paris", postal_code="75001", country="FR"
                ),
                lines=[line],
                currency="EUR",
                item_count=2,
                total=5000,
            ),
            placed_at,
        ),
        (orders.OrderPaid(payment_reference="pay_1", amount=5000), placed_at + timedelta(minutes=1)),
        (orders.OrderShipped(carrier="DHL", tracking_number="T1"), placed_at + timedelta(hours=1)),
    ]
    return [
        EventEnvelope(
            type=type(body).__name__,
            aggregate_type="order",
            aggregate_id=order_id,
            aggregate_version=version,
            merchant_id=merchant_id,
            occurred_at=at,
            correlation_id=correlation_id,
            data=body.model_dump(mode="json"),
        )
        for version, (body, at) in enumerate(bodies, start=1)
    ]


async def publish(settings, events: list[EventEnvelope]) -> None:
    from shared.kafka import reliable_producer
    from shared.topics import ORDERS

    producer = reliable_producer(settings)
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(
                settings.topic(ORDERS), event.to_json(), key=event.kafka_key(), headers=event.kafka_headers()
            )
    finally:
        await producer.stop()


async def test_metrics_are_exposed_and_move(observed, merchant, settings):
    activity_group = f"{WORKER_GROUPS}.activity"

    async def worker_joined():  # the activity group reads from "latest": wait until it joined
        return value(await scrape(observed.workers), "kafka_consumer_lag", group=activity_group) is not None

    assert await eventually(worker_joined), "the workers' activity group never got partitions"

    before = {s.name: await scrape(s) for s in observed.services}
    auth = {"Authorization": f"Bearer {merchant['secret_key']}"}
    query = observed.query_api.url
    async with httpx.AsyncClient(timeout=10) as client:
        product = product_body()
        created = await client.post(f"{observed.command_api.url}/v1/products", json=product, headers=auth)
        assert created.status_code == 202, created.text
        product["id"] = created.json()["id"]
        product_url = f"{query}/v1/products/{created.json()['id']}"

        statuses: list[int] = []

        async def served():
            statuses.append((await client.get(product_url)).status_code)
            return statuses[-1] == 200

        assert await eventually(served)
        assert (await client.get(f"{query}/v1/products/nope")).status_code == 404
        statuses.append(404)
        assert (await client.get(f"{query}/no/such/path")).status_code == 404
        await cached_list_changes(client, observed, merchant, auth)
        await burst_of_misses_is_shed(client, observed)
    await publish(settings, order_events(merchant["merchant_id"], product, f"obs-{uuid.uuid4().hex}"))

    async def shipped_order_counted():
        return (
            value(await scrape(observed.workers), "merchant_order_processing_seconds_count")
            == (value(before["workers"], "merchant_order_processing_seconds_count") or 0) + 1
        )

    async def sms_dead_lettered():  # 1 attempt + 3 retries, 0.2 s backoff
        return value(await scrape(observed.workers), "job_dead_letters_total", kind="sms")

    async def emails_sent():  # the dev SMTP server may take seconds per message under load
        return value(await scrape(observed.workers), "jobs_processed_total", kind="email", outcome="ok")

    assert await eventually(shipped_order_counted)
    assert await eventually(sms_dead_lettered)
    assert await eventually(emails_sent)
    after = {s.name: await scrape(s) for s in observed.services}

    def grew(service: str, name: str, /, by: float | None = None, **labels) -> None:
        old, new = value(before[service], name, **labels) or 0, value(after[service], name, **labels)
        assert new is not None, f"{service}: {name}{labels} missing"
        assert (new - old == by) if by is not None else (new > old), f"{service}: {name}{labels} {old} -> {new}"

    def present(service: str, name: str, /, **labels) -> float:
        found = value(after[service], name, **labels)
        assert found is not None, f"{service}: {name}{labels} missing"
        return found

    # HTTP: per route template and status, latency, in flight; errors: the shed requests.
    grew("command-api", "http_requests_total", by=2, method="POST", route="/v1/products", status="202")
    grew("command-api", "http_request_duration_seconds_count", by=2, method="POST", route="/v1/products")
    grew("query-api", "http_requests_total", by=statuses.count(404), route="/v1/products/{product_id}", status="404")
    # At least this test's one 200: the warm-up worker reads the changed product's page
    # through the API too, paced, so how many of its reads land before the last scrape
    # depends on the machine's load (CI saw 14 more at load ~5).
    grew("query-api", "http_requests_total", route="/v1/products/{product_id}", status="200")
    grew("query-api", "http_requests_total", by=1, route="<unmatched>", status="404")
    present("query-api", "http_requests_in_flight", service="query-api")
    assert value(after["command-api"], "http_request_errors_total") is None  # no 5xx, no exception
    grew("query-api", "http_request_errors_total", kind="5xx")  # the 503s of load shedding
    # The cache, where it happens: hits and misses per level, invalidations found.
    for level in ("l1", "l2"):
        grew("query-api", "cache_hits_total", level=level)
        grew("query-api", "cache_misses_total", level=level)
        grew("query-api", "cache_invalidations_total", level=level)
    grew("query-api", "cache_hits_total", level="l3")
    # MongoDB: command latency from pymongo's listeners, the pool.
    grew("command-api", "mongodb_command_duration_seconds_count", command="insert", outcome="ok")
    grew("query-api", "mongodb_command_duration_seconds_count", command="find", outcome="ok")
    assert present("command-api", "mongodb_pool_connections") >= 1
    present("command-api", "mongodb_pool_connections_in_use")
    # Kafka consumers: messages handled, lag per group and partition, projection lag.
    projection = f"{PROJECTOR_GROUPS}.products"
    grew("projectors", "kafka_messages_consumed_total", group=projection, outcome="ok")
    present("projectors", "kafka_consumer_lag", group=projection)
    present("projectors", "projection_lag_events", projection=projection)
    assert 0 <= present("projectors", "projection_lag_seconds", projection=projection) < 60
    present("workers", "kafka_consumer_lag", group=activity_group)
    # Jobs: the order e-mails succeed; the SMS fails every attempt.
    grew("workers", "jobs_processed_total", kind="email", outcome="ok")
    grew("workers", "job_duration_seconds_count", kind="email")
    grew("workers", "job_retries_total", by=3, kind="sms")
    grew("workers", "job_dead_letters_total", by=1, kind="sms")
    grew("workers", "jobs_processed_total", by=1, kind="sms", outcome="dead")
    # Business, from the order events.
    grew("workers", "merchant_orders_placed_total", by=1)
    grew("workers", "merchant_payments_total", by=1, outcome="succeeded")
    grew("workers", "merchant_order_value_minor_total", by=5000, currency="EUR")
    grew("workers", "merchant_order_processing_seconds_sum", by=3600)
    assert present("workers", "merchant_active_merchants") >= 1
    # Process and runtime, on every process.
    for service in ("command-api", "query-api", "projectors", "workers"):
        assert present(service, "merchant_process_rss_bytes") > 10 * 1024 * 1024
        grew(service, "merchant_event_loop_lag_seconds_count")
        present(service, "merchant_memory_leak_suspected")
        present(service, "merchant_gc_collections_total")
    await every_panel_moved(observed, before, after)


async def cached_list_changes(client: httpx.AsyncClient, observed: Observed, merchant: dict, auth: dict) -> None:
    """A cached list page, read again (an L1 hit) and with its parameters in another order
    (another L1 key, the same L2 key: an L2 hit); then a change to it: the next read finds
    the cached copies stale, reloads, and shows the new product."""
    base = f"{observed.query_api.url}/v1/products"
    listing = f"{base}?merchant={merchant['merchant_id']}&limit=100"
    shown = len((await client.get(listing)).json()["data"])
    assert (await client.get(listing)).status_code == 200  # an L1 hit
    assert (await client.get(f"{base}?limit=100&merchant={merchant['merchant_id']}")).status_code == 200
    created = await client.post(f"{observed.command_api.url}/v1/products", json=product_body(), headers=auth)
    assert created.status_code == 202, created.text

    async def listed():
        return len((await client.get(listing)).json()["data"]) == shown + 1

    assert await eventually(listed)


async def burst_of_misses_is_shed(client: httpx.AsyncClient, observed: Observed) -> None:
    """With every admitted slot taken (read-your-writes reads waiting, for
    ``QUERY_API_MIN_VERSION_WAIT`` seconds, for a version that never comes), cache misses
    are shed (503) and counted as cache lookups that missed.
    (The warm-up worker may hold a slot for a moment too: then one more read is shed, or
    one of the burst is admitted — both fine.)"""
    query = observed.query_api.url
    waiting = [
        asyncio.create_task(
            client.get(
                f"{query}/v1/products/never-{i}",
                params={"min_version": 10**9},
                timeout=QUERY_API_MIN_VERSION_WAIT + 30,  # answered 409 once the wait is over
            )
        )
        for i in range(QUERY_API_IN_FLIGHT_LIMIT)
    ]

    async def slots_taken():  # (the scrape goes to the ops listener: not in flight on the API)
        in_flight = value(await scrape(observed.query_api), "http_requests_in_flight", service="query-api")
        return in_flight is not None and in_flight >= QUERY_API_IN_FLIGHT_LIMIT

    before = (await client.get(f"{query}/health/cache")).json()
    assert await eventually(slots_taken, timeout=10)
    answers = await asyncio.gather(
        *(client.get(f"{query}/v1/products", params={"category": f"shed-{i}"}) for i in range(10))
    )
    gave_up = [t.result().status_code for t in waiting if t.done() and t.result().status_code == 409]
    assert not gave_up, f"a read-your-writes read left its slot before the burst was answered ({gave_up})"
    assert {a.status_code for a in await asyncio.gather(*waiting)} <= {409, 503}  # version_not_yet_visible
    shed = [a for a in answers if a.status_code == 503]
    assert len(shed) >= 5 and {a.json()["error"]["code"] for a in shed} == {"overloaded"}
    after = (await client.get(f"{query}/health/cache")).json()
    # Shed or not, every read is a lookup; every shed read is counted (at least: the
    # warm-up worker may read meanwhile).
    assert after["shed"] - before["shed"] >= len(shed)
    assert after["lookups"] - before["lookups"] >= 10


async def every_panel_moved(observed: Observed, before: dict[str, Samples], after: dict[str, Samples]) -> None:
    """Each metric a dashboard panel plots was driven by this test's traffic: a counter or
    histogram grew on some process, a gauge is reported."""
    types: dict[str, str] = {}
    for service in observed.services:
        types.update(await metric_types(service))
    for family in sorted(dashboard_metrics()):
        kind = types.get(family)
        assert kind is not None, f"{family} (on the dashboard) is exported by no process"
        sample = {"counter": f"{family}_total", "histogram": f"{family}_count"}.get(kind, family)
        if kind == "gauge":
            assert any(value(after[s.name], sample) is not None for s in observed.services), family
        else:
            moved = [
                s.name
                for s in observed.services
                if (value(after[s.name], sample) or 0) > (value(before[s.name], sample) or 0)
            ]
            assert moved, f"{family} (on the dashboard) did not move with the test's traffic"


async def test_after_1000_catalogue_gets_the_cache_counters_equal_health_cache(observed, merchant):
    """The query API's Prometheus cache counters and its ``/health/cache`` count the same
    events (``query_api.adapters.cache.stats``): after 1,000 real storefront reads — hits,
    misses, L2 hits, 404s — they are equal, level by level."""
    query = observed.query_api.url
    m = merchant["merchant_id"]
    targets = [
        f"/v1/products?merchant={m}",
        f"/v1/products?merchant={m}&sort=price_asc",
        f"/v1/categories?merchant={m}",
        "/v1/categories",
        "/v1/products/no-such-product",  # 404: a miss at every level, never cached
        *(f"/v1/products?merchant={m}&category=c{i}" for i in range(20)),
        f"/v1/products?sort=price_asc&merchant={m}",  # another L1 key for the second one: an L2 hit
    ]
    async with httpx.AsyncClient(base_url=query, timeout=10) as client:
        before = (await client.get("/health/cache")).json()
        # Half the admitted requests at a time: the workers' cache warm-up reads this query API
        # too, and a slot is freed only after its answer was sent, so a full batch can meet a
        # slot still taken and be shed. A shed read (503 overloaded: counted as `shed`, at no cache
        # level) is sent again, as its answer asks; any other 5xx fails the test.
        per_batch = QUERY_API_IN_FLIGHT_LIMIT // 2
        for start in range(0, 1000, per_batch):
            batch = [targets[i % len(targets)] for i in range(start, start + per_batch)]
            answers = await asyncio.gather(*(get_unless_shed(client, t) for t in batch))
            assert {a.status_code for a in answers} <= {200, 404}, [a.text for a in answers if a.status_code >= 500]
        health, samples = await settled_cache_counters(client, observed.query_api)

    assert health["lookups"] - before["lookups"] >= 1000
    assert health["l1_hits"] > before["l1_hits"] and health["l2_hits"] > before["l2_hits"]
    counted = {
        ("cache_hits_total", "l1"): health["l1_hits"],
        ("cache_misses_total", "l1"): health["l1_misses"],
        ("cache_hits_total", "l2"): health["l2_hits"],
        ("cache_misses_total", "l2"): health["l2_misses"] + health["l2_skipped"],
        ("cache_hits_total", "l3"): health["l3_loads"],
        ("cache_invalidations_total", "l1"): health["l1_invalidated"],
        ("cache_invalidations_total", "l2"): health["l2_invalidated"],
    }
    assert {key: value(samples, key[0], level=key[1]) for key in counted} == counted


async def get_unless_shed(client: httpx.AsyncClient, path: str, attempts: int = 20) -> httpx.Response:
    """GET, sent again (up to ``attempts`` times) while the query API sheds it as overloaded."""
    for _ in range(attempts - 1):
        answer = await client.get(path)
        if answer.status_code != 503 or answer.json().get("error", {}).get("code") != "overloaded":
            return answer
        await asyncio.sleep(0.05)
    return await client.get(path)


async def settled_cache_counters(client: httpx.AsyncClient, service: Service) -> tuple[dict, Samples]:
    """``/health/cache`` and ``/metrics`` of one moment: read between two scrapes that agree
    (a warm-up request landing in between would make them differ; then read again)."""

    async def cache_samples() -> Samples:
        return {key: v for key, v in (await scrape(service)).items() if key[0].startswith("cache_")}

    for _ in range(20):
        first = await cache_samples()
        health = (await client.get("/health/cache")).json()
        if await cache_samples() == first:
            return health, first
        await asyncio.sleep(0.2)
    raise AssertionError("the query API never stopped serving reads long enough to compare")


async def test_one_correlation_id_in_the_logs_of_every_process(observed, merchant):
    corr = f"e2e-{uuid.uuid4().hex}"
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(
            f"{observed.command_api.url}/v1/products",
            json=product_body(),
            headers={"Authorization": f"Bearer {merchant['secret_key']}", "X-Correlation-ID": corr},
        )
    assert response.status_code == 202, response.text
    assert response.headers["x-correlation-id"] == corr
    assert response.json()["correlation_id"] == corr

    def lines_with(service: Service) -> list[dict]:
        found = []
        for line in service.log_path.read_text(errors="replace").splitlines():
            if corr in line:
                found.append(json.loads(line))  # every line is JSON
        return found

    async def in_every_log():
        return all(lines_with(s) for s in (observed.command_api, observed.projectors, observed.workers))

    assert await eventually(in_every_log), {s.name: s.tail(5) for s in observed.services}

    assert any(
        line["correlation_id"] == corr and line["route"] == "/v1/products" for line in lines_with(observed.command_api)
    )
    assert any(
        corr in line.get("correlation_ids", []) and line["group"] == f"{PROJECTOR_GROUPS}.products"
        for line in lines_with(observed.projectors)
    )
    assert any(
        line["correlation_id"] == corr and line.get("event_type") == "ProductCreated"
        for line in lines_with(observed.workers)
    )


async def test_a_request_without_correlation_id_gets_one_used_throughout(observed, merchant):
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(
            f"{observed.command_api.url}/v1/products",
            json=product_body(),
            headers={"Authorization": f"Bearer {merchant['secret_key']}"},
        )
    assert response.status_code == 202
    assert uuid.UUID(response.headers["x-correlation-id"])
    assert response.json()["correlation_id"] == response.headers["x-correlation-id"]


async def test_memory_report_and_tracing_over_the_ops_endpoints(observed):
    async with httpx.AsyncClient(timeout=10) as client:
        for base in (observed.query_api.ops_url, observed.projectors.ops_url):
            report = (await client.get(f"{base}/ops/memory")).json()
            assert report["health"] == "ok" and report["rss_bytes"] > 0 and report["samples"]
            assert (await client.post(f"{base}/ops/memory/tracing")).json() == {"tracing": True}
            assert (await client.get(f"{base}/ops/memory?top=3")).json()["tracing"] is True
            assert (await client.delete(f"{base}/ops/memory/tracing")).json() == {"tracing": False}
            bad = await client.get(f"{base}/ops/memory?top=lots")
            assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_failed"
        ready = (await client.get(f"{observed.query_api.url}/health/ready")).json()
        assert ready["checks"]["memory"] == "ok"


async def test_production_mode_with_two_processes_aggregates_metrics(server_env, obs_database, tmp_path):
    port, ops = free_port(), free_port()
    service = Service(
        "query-api-prod",
        ["query-api", "--port", str(port), "--metrics-port", str(ops), "--workers", "2", "--prod"],
        {**server_env, "MONGODB_DATABASE": obs_database, "QUERY_API_CURSOR_SECRET": uuid.uuid4().hex},
        tmp_path / "query-api-prod.log",
        url=f"http://127.0.0.1:{port}",
        ops_url=f"http://127.0.0.1:{ops}",
    ).start()
    try:
        service.wait_ready(timeout=60)

        async def both_workers_up():
            rss = [v for (n, _), v in (await scrape(service)).items() if n == "merchant_process_rss_bytes"]
            return len(rss) == 2

        assert await eventually(both_workers_up), service.tail()
        before = value(await scrape(service), "http_requests_total", route="/health/live") or 0
        async with httpx.AsyncClient(timeout=5) as client:
            for _ in range(10):  # new connections: the kernel spreads them over both processes
                assert (
                    await client.get(f"{service.url}/health/live", headers={"Connection": "close"})
                ).status_code == 200
        after = await scrape(service)
        assert value(after, "http_requests_total", route="/health/live") == before + 10

        def log_lines() -> list[dict]:
            return [json.loads(line) for line in service.log_path.read_text().splitlines() if line.startswith("{")]

        async def both_froze():  # each worker froze its start-up heap (its line may come late)
            return len({line["pid"] for line in log_lines() if line["msg"].startswith("gc.freeze()")}) == 2

        assert await eventually(both_froze), service.tail()
        log = log_lines()
        assert not any(line["logger"] == "merchant.access" for line in log)  # access log off in production
    finally:
        service.stop()
