"""Request metrics middleware, JSON logs, business metrics and the dashboard, without servers."""

from __future__ import annotations

import gc
import json
import logging
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from shared.events import EventEnvelope
from shared.observability import metrics
from shared.observability.business import BusinessMetrics
from shared.observability.http import instrument_http
from shared.observability.logs import JsonFormatter, correlated
from shared.observability.ops import render_metrics
from shared.observability.settings import ObservabilitySettings

ROOT = Path(__file__).resolve().parents[2]


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def small_app(service: str) -> Starlette:
    async def item(request):
        return JSONResponse({"id": request.path_params["item_id"]})

    async def boom(request):
        raise RuntimeError("bug")

    app = Starlette(routes=[Route("/items/{item_id}", item), Route("/boom", boom)])
    return instrument_http(app, service, ObservabilitySettings(access_log=False))


def client_for(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app, raise_app_exceptions=False), base_url="http://unit")


async def test_requests_are_counted_per_route_template_and_status():
    labels = {"service": "unit-a", "method": "GET", "route": "/items/{item_id}", "status": "200"}
    before = sample("http_requests_total", **labels)
    async with client_for(small_app("unit-a")) as client:
        assert (await client.get("/items/1")).status_code == 200
        assert (await client.get("/items/2")).status_code == 200
        assert (await client.get("/nowhere/3")).status_code == 404
        assert (await client.get("/boom")).status_code == 500
        assert (await client.get("/metrics")).status_code == 404  # on the ops listener only
    metrics_text = render_metrics().decode()
    assert sample("http_requests_total", **labels) == before + 2
    assert sample("http_requests_total", service="unit-a", method="GET", route="<unmatched>", status="404") == 2
    assert sample("http_request_errors_total", service="unit-a", route="/boom", kind="exception") == 1
    assert 'http_requests_in_flight{service="unit-a"} 0.0' in metrics_text
    assert 'route="/items/{item_id}"' in metrics_text and "/items/1" not in metrics_text


async def test_unknown_methods_share_one_label():
    """The method token is the client's: each new one kept a labelled child for good."""
    async with client_for(small_app("unit-m")) as client:
        for i in range(50):
            await client.request(f"BREW{i}", "/items/1")
    metrics_text = "\n".join(
        f"{s.labels}" for m in REGISTRY.collect() for s in m.samples if s.labels.get("service") == "unit-m"
    )
    assert "BREW" not in metrics_text
    assert sample("http_requests_total", service="unit-m", method="OTHER", route="/items/{item_id}", status="405") == 50


async def test_correlation_id_is_echoed_or_created():
    async with client_for(small_app("unit-b")) as client:
        given = await client.get("/items/1", headers={"X-Correlation-ID": "abc-123"})
        created = await client.get("/items/1")
        unsafe = await client.get("/items/1", headers={"X-Correlation-ID": "bad id with spaces"})
    assert given.headers["x-correlation-id"] == "abc-123"
    assert uuid.UUID(created.headers["x-correlation-id"])
    assert unsafe.headers["x-correlation-id"] != "bad id with spaces"


def test_json_log_line_carries_the_correlation_id_and_extras():
    record = logging.LogRecord("merchant.test", logging.INFO, __file__, 1, "hello %s", ("you",), None)
    record.order_id = "ord_1"
    with correlated("corr-9"):
        line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "hello you" and line["correlation_id"] == "corr-9"
    assert line["order_id"] == "ord_1" and line["level"] == "INFO"
    assert "correlation_id" not in json.loads(JsonFormatter().format(record))


def order_event(
    type_: str, order_id: str, at: datetime, version: int, merchant: str = "m_unit", **data
) -> EventEnvelope:
    return EventEnvelope(
        type=type_,
        aggregate_type="order",
        aggregate_id=order_id,
        aggregate_version=version,
        merchant_id=merchant,
        occurred_at=at,
        correlation_id="c",
        data=data,
    )


def test_business_metrics_from_order_events():
    business = BusinessMetrics(active_window=60)
    placed = datetime(2026, 1, 1, tzinfo=UTC)
    before_orders = sample("merchant_orders_placed_total")
    before_count = sample("merchant_order_processing_seconds_count")
    before_failed = sample("merchant_payments_total", outcome="failed")
    business.observe(order_event("OrderPlaced", "o1", placed, 1, currency="EUR", total=100), now=0)
    business.observe(order_event("OrderPaymentFailed", "o1", placed, 2, reason="declined"), now=1)
    business.observe(order_event("OrderShipped", "o1", placed + timedelta(minutes=30), 3), now=2)
    business.observe(order_event("OrderShipped", "o1", placed + timedelta(minutes=40), 4), now=3)  # re-delivery
    assert sample("merchant_orders_placed_total") == before_orders + 1
    assert sample("merchant_order_processing_seconds_count") == before_count + 1
    assert sample("merchant_payments_total", outcome="failed") == before_failed + 1
    assert sample("merchant_active_merchants") == 1
    business.observe(order_event("OrderPlaced", "o2", placed, 1, merchant="m_other"), now=30)
    assert sample("merchant_active_merchants") == 2
    business.observe(order_event("OrderDelivered", "o2", placed, 2, merchant="m_other"), now=1000)
    assert sample("merchant_active_merchants") == 1  # m_unit quiet for longer than the window


def test_dashboard_and_docs_name_only_metrics_that_exist():
    exported = {m.name for m in REGISTRY.collect()}
    exported |= {f"{n}_total" for n in exported} | {f"{n}_bucket" for n in exported}
    dashboard = json.loads((ROOT / "infra/grafana/merchant-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    named = {
        m
        for e in exprs
        for m in re.findall(
            r"\b([a-z_]+(?:_total|_bucket|_bytes|_seconds|_events|_flight|"
            r"_connections|_use|_suspected|_minute|_merchants))\b",
            e,
        )
    }
    assert named and named <= exported, named - exported
    assert metrics.cache_hits is not None


def test_production_start_up_freezes_the_heap_and_raises_the_collector_thresholds():
    import gc

    from shared.observability.runtime import Monitors

    before = gc.get_threshold()
    try:
        Monitors(ObservabilitySettings(env="development")).started()
        assert gc.get_threshold() == before  # development keeps CPython's defaults
        settings = ObservabilitySettings(env="production", gc_thresholds=(12_345, 15, 16))
        Monitors(settings).started()
        assert gc.get_threshold() == (12_345, 15, 16)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_gc_collections_are_exposed_before_the_first_collection():
    """A process that has not collected yet (the projector's tuned collector runs rarely)
    still exposes every generation's counter, at what it has counted."""
    import gc

    from shared.observability.runtime import _GcTimer

    gc.disable()
    try:
        _GcTimer.install()
        for generation in range(len(gc.get_threshold())):
            found = REGISTRY.get_sample_value("merchant_gc_collections_total", {"generation": str(generation)})
            assert found is not None and found >= 0
    finally:
        gc.enable()


def test_a_component_tunes_its_collector_in_every_mode():
    """The projectors tune their collector outside production too (their catch-up batches
    are where the default cost most); other components only in production."""
    import gc

    from shared.observability.runtime import Monitors

    before = gc.get_threshold()
    try:
        development = ObservabilitySettings(env="development")
        Monitors(development).started()
        assert gc.get_threshold() == before
        Monitors(development, development.batch_gc_thresholds).started()
        assert gc.get_threshold() == development.batch_gc_thresholds
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_gc_thresholds_hold_inside_and_are_restored_after_even_on_failure():
    from shared.observability.runtime import gc_thresholds

    before = gc.get_threshold()
    with pytest.raises(RuntimeError, match="fold failed"), gc_thresholds((50_000, 20, 100)):
        assert gc.get_threshold() == (50_000, 20, 100)
        raise RuntimeError("fold failed")
    assert gc.get_threshold() == before
