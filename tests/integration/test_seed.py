"""``merchant seed`` on the real servers: the seeded events reach the event store and
Kafka, the running projectors build every read model from them, and the query API
serves what was seeded. A re-run is refused; a run that died resumes without duplicates.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from shared.read_models import CATALOG_PRODUCTS, MERCHANT_PRODUCTS, MERCHANT_STATS, ORDERS

from command_api.adapters.event_store import COMMITS
from command_api.seeding.plan import SeedParams
from command_api.seeding.simulation import Simulation
from command_api.seeding.writer import RUNS, AlreadySeeded, Seeder

pytestmark = pytest.mark.integration
UNTIL = datetime.combine(datetime.now(UTC).date(), datetime.min.time(), tzinfo=UTC)
PROJECTION_TIMEOUT = 300.0


def small(prefix: str, **sizes) -> SeedParams:
    return SeedParams(
        **{
            "merchants": 2,
            "products": 60,
            "orders": 90,
            "until": UNTIL,
            "seed": 3,
            "prefix": prefix,
            "months": 3,
            "batch": 200,
            **sizes,
        }
    )


async def _projected(db, merchant_id: str) -> dict:
    """What the read models say about one merchant, in the --out file's terms."""
    products = await db[MERCHANT_PRODUCTS].find({"merchant_id": merchant_id}, {"stock": 1, "visible": 1}).to_list()
    statuses = Counter(
        o["status"] for o in await db[ORDERS].find({"merchant_id": merchant_id}, {"status": 1}).to_list()
    )
    days = await db[MERCHANT_STATS].find({"merchant_id": merchant_id}, {"orders_placed": 1, "revenue": 1}).to_list()
    return {
        "products": len(products),
        "visible_products": sum(p["visible"] for p in products),
        "stock_units": sum(p["stock"] for p in products),
        "orders": sum(statuses.values()),
        "orders_by_status": dict(sorted(statuses.items())),
        "revenue": sum(d["revenue"] for d in days),
        "stats_orders": sum(d["orders_placed"] for d in days),
        "catalog": await db[CATALOG_PRODUCTS].count_documents({"merchant_id": merchant_id, "visible": True}),
    }


def _expected(m: dict) -> dict:
    return {
        **{k: m[k] for k in ("products", "visible_products", "stock_units", "orders", "orders_by_status", "revenue")},
        "stats_orders": m["orders"],
        "catalog": m["visible_products"],
    }


async def _wait_for_projections(db, merchants: list[dict]) -> None:
    """Until the read models of every seeded merchant say what was seeded (they converge:
    each is rebuilt from the events, in order, idempotently)."""
    deadline = asyncio.get_running_loop().time() + PROJECTION_TIMEOUT
    while True:
        actual = [await _projected(db, m["merchant_id"]) for m in merchants]
        if actual == [_expected(m) for m in merchants] or asyncio.get_running_loop().time() > deadline:
            assert actual == [_expected(m) for m in merchants]
            return
        await asyncio.sleep(2.0)


# FerretDB v1 projects a few dozen events a second on a busy 2-core machine (docs/seeding.md):
# ~600 events here, hence the size and the timeout.
@pytest.mark.timeout(PROJECTION_TIMEOUT + 120)
async def test_seeded_data_is_projected_and_served(stack, mongo_db, settings, tmp_path):
    out = tmp_path / "seed.json"
    summary = await Seeder(mongo_db, settings, small(f"it{uuid.uuid4().hex[:8]}"), out).run()
    written = json.loads(out.read_text())
    assert written == json.loads(json.dumps(summary))
    merchants = written["merchants"]
    assert [bool(m["secret_key"] and m["publishable_key"] and m["product_ids"]) for m in merchants] == [True, True]
    assert sum(m["products"] for m in merchants) == 60
    assert sum(m["orders"] for m in merchants) == 90 - written["totals"]["skipped_orders"] > 75

    # The store holds every event once, stamped in the past.
    ids = [m["merchant_id"] for m in merchants]
    commits = await mongo_db[COMMITS].find({"merchant_id": {"$in": ids}}).to_list()
    events = [e for c in commits for e in c["events"]]
    assert len(events) == len({e["event_id"] for e in events}) == written["totals"]["events"]
    assert max(e["occurred_at"] for e in events) <= UNTIL.isoformat().replace("+00:00", "Z")

    await _wait_for_projections(mongo_db, merchants)
    async with httpx.AsyncClient(base_url=stack.query_api.url, timeout=30) as client:
        for m in merchants:
            mid, secret = m["merchant_id"], {"Authorization": f"Bearer {m['secret_key']}"}
            # ... and the query API serves the same numbers.
            first = (UNTIL - timedelta(days=120)).date().isoformat()
            stats = await client.get(
                "/v1/merchant/stats", params={"from": first, "to": UNTIL.date().isoformat()}, headers=secret
            )
            assert stats.status_code == 200, stats.text
            assert (stats.json()["totals"]["orders_placed"], stats.json()["totals"]["revenue"]) == (
                m["orders"],
                m["revenue"],
            )
            orders = await client.get("/v1/merchant/orders", params={"page": 1, "limit": 5}, headers=secret)
            assert orders.status_code == 200 and orders.json()["total"] == m["orders"]
            catalog = await client.get("/v1/products", params={"merchant": mid, "page": 1, "limit": 5})
            assert catalog.status_code == 200 and catalog.json()["total"] == m["visible_products"]

    before = await mongo_db[COMMITS].count_documents({"merchant_id": {"$in": ids}})
    with pytest.raises(AlreadySeeded, match="seeded already"):
        await Seeder(mongo_db, settings, small(written["run"]["prefix"]), None).run()
    assert await mongo_db[COMMITS].count_documents({"merchant_id": {"$in": ids}}) == before


class Crash(Exception):
    pass


async def test_a_run_that_died_resumes_without_duplicates(mongo_db, settings, tmp_path):
    params = small(f"crash{uuid.uuid4().hex[:8]}", merchants=1, products=40, orders=60, batch=100)
    out = tmp_path / "seed.json"

    def die_after_second_window(window) -> None:
        if window.index == 2:
            raise Crash()

    with pytest.raises(Crash):
        await Seeder(mongo_db, settings, params, out).run(die_after_second_window)
    record = await mongo_db[RUNS].find_one({"_id": params.run_id})
    assert (record["state"], record["windows_published"]) == ("running", 2)
    keys = json.loads(out.read_text())["merchants"][0]["secret_key"]

    summary = await Seeder(mongo_db, settings, params, out).run()
    sim = Simulation(params)
    expected = [c for w in sim.windows() for c in w.commits]
    stored = await mongo_db[COMMITS].find({"command_id": {"$regex": f"^seed:{params.prefix}:"}}).to_list()
    assert sorted(c["command_id"] for c in stored) == sorted(c.command_id for c in expected)
    assert summary["merchants"][0]["secret_key"] == keys  # kept from the first attempt's --out
    assert (await mongo_db[RUNS].find_one({"_id": params.run_id}))["state"] == "done"
