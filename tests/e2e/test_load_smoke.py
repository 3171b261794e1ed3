"""The load harness itself, on the real stack: a short locust run at a low rate.

``python -m loadtests.run smoke`` against the session's stack (15 s at 20 requests/s,
every user first makes one request of each kind): no 5xx, every kind of request was
made and answered, the summary files are written and no accepted order was lost, and the
summary says where the time went: CPU of every process (services, servers, locust) and
MongoDB operations per read and per accepted command.
"""

from __future__ import annotations

import json

import pytest

from loadtests import dataset
from loadtests.run import main, parser, run

pytestmark = pytest.mark.e2e

KINDS = (
    "GET /v1/products?category&sort",
    "GET /v1/products?cursor",
    "GET /v1/products/{id}",
    "GET /v1/products/{id} If-None-Match",
    "GET /v1/categories",
    "POST /v1/orders",
    "POST /v1/products/{id}/price",
    "POST /v1/products/{id}/stock",
    "GET /v1/merchant/orders",
)


@pytest.fixture
async def load_data(stack, merchant, tmp_path):
    data = {"merchants": [{**merchant, "currency": "EUR", "categories": ["toys", "books"], "product_ids": []}]}
    await dataset._create_products(stack.command_api.url, data["merchants"], per_merchant=24)
    await dataset.wait_visible(stack.query_api.url, data)
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(data))
    return path


def test_a_smoke_run_exercises_every_request_kind_without_server_errors(stack, server_env, load_data, tmp_path):
    args = parser().parse_args(
        [
            "smoke",
            "--data",
            str(load_data),
            "--command-url",
            stack.command_api.url,
            "--query-url",
            stack.query_api.url,
            "--out",
            str(tmp_path / "results"),
            "--page-size",
            "5",
            "--tour",
            "--sample-seconds",
            "1",
            "--command-metrics-url",
            stack.command_api.ops_url,
            "--query-metrics-url",
            stack.query_api.ops_url,
            "--projector-metrics-url",
            stack["projectors"].ops_url,
        ]
    )
    result = run(args, server_env=server_env, processes={name: s.process.pid for name, s in stack.by_component.items()})

    overall = result["overall"]
    assert overall["requests"] >= 150, overall  # 20/s for 15 s, minus the start
    assert not [s for s in overall["statuses"] if s.startswith("5") or s.startswith("failed")], overall
    answered = {
        name
        for name, statuses in result["requests_by_type"].items()
        if any(s in ("200", "202", "304") for s in statuses)
    }
    assert set(KINDS) <= answered, f"not answered: {set(KINDS) - answered}"
    assert result["consistency"]["ok"], result["consistency"]
    assert result["orders_accepted"] == result["requests_by_type"]["POST /v1/orders"]["202"]
    out = result["meta"]["out"]
    assert {"summary.json", "summary.md", "report.html", "locust_stats.csv", "plot.png"} <= {
        p.name for p in (tmp_path / "results").glob("*/*")
    }
    assert "p50 / p95 / p99" in (tmp_path / "results" / out.rsplit("/", 1)[1] / "summary.md").read_text()
    assert result["rss"]["query-api"]["max_mb"] > 0
    _assert_where_the_time_went(result["work"], (tmp_path / "results" / out.rsplit("/", 1)[1] / "summary.md"))


def _assert_where_the_time_went(work, summary_md):
    from loadtests.processes import SERVERS
    from loadtests.run import HARNESS, LOAD_GENERATOR

    cpu = {row["process"]: row for row in work["cpu"]["processes"]}
    assert {"command-api", "query-api", "projectors", *SERVERS, LOAD_GENERATOR, HARNESS} <= set(cpu), cpu
    for busy in ("query-api", "FerretDB", LOAD_GENERATOR):
        assert cpu[busy]["cpu_seconds"] > 0, cpu[busy]
    assert work["cpu"]["machine"]["cpu_seconds"] > 0
    per_unit = {row["process"]: row for row in work["operations_per_unit"]}
    assert per_unit["query-api"]["units"] == work["reads_answered"] > 0
    assert per_unit["query-api"]["per_unit"] > 0, per_unit["query-api"]  # at least the cache misses
    # Accepted commands write, but group commit shares one insert among the commands that
    # queued up together, so fewer operations than commands is right; none is not.
    command_api = per_unit["command-api"]
    assert command_api["units"] > 0 and command_api["per_unit"] > 0, command_api
    assert command_api["top"].get("insert", 0) > 0, command_api
    text = summary_md.read_text()
    assert "| process | CPU s | % of one core |" in text and "| machine total (psutil.cpu_times) |" in text
    assert "| process | MongoDB operations (top commands) | per unit |" in text


def test_the_runner_refuses_half_a_running_stack():
    with pytest.raises(SystemExit):
        main(["smoke", "--command-url", "http://127.0.0.1:1"])
