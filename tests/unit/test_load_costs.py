"""The load summary's cost tables: CPU per process with shares, MongoDB operations per unit
of work, and how the servers' processes are named (pure parts: no stack, no servers)."""

from __future__ import annotations

from collections import Counter

import pytest

from loadtests.costs import UNITS, cpu_table, operations_table, stalls_table, work_figures
from loadtests.ops import Work, accepted_commands, counters_between, stalls
from loadtests.processes import port_of, root_listener
from loadtests.report import cpu_lines, operations_lines, stalls_lines


def test_cpu_shares_are_of_one_core_of_the_machine_and_of_the_listed_total():
    table = cpu_table({"query-api": 30.0, "FerretDB": 60.0, "locust": 10.0}, machine=150.0, wall=100.0, cores=2)
    assert [r["process"] for r in table["processes"]] == ["FerretDB", "query-api", "locust"]
    ferret = table["processes"][0]
    assert ferret["of_one_core"] == 0.6 and ferret["of_machine"] == 0.3 and ferret["share_of_listed"] == 0.6
    assert table["listed"]["cpu_seconds"] == 100.0 and table["listed"]["share_of_listed"] == 1.0
    assert table["machine"]["of_machine"] == 0.75
    assert table["not_attributed"]["cpu_seconds"] == 50.0 and table["not_attributed"]["of_one_core"] == 0.5


def test_an_empty_run_has_no_shares_rather_than_a_division_by_zero():
    table = cpu_table({"query-api": 0.0}, machine=0.0, wall=0.0, cores=2)
    assert table["processes"][0]["of_one_core"] is None and table["listed"]["share_of_listed"] is None


def test_operations_are_counted_per_unit_of_each_process_work_with_the_top_commands():
    operations = {
        "query-api": Counter({"find": 90, "aggregate": 10}),
        "command-api": Counter({"insert": 30, "update": 5, "find": 2, "delete": 1, "getMore": 1}),
        "projectors": Counter({"update": 40}),
        "workers": Counter({"insert": 4}),
        "elsewhere": Counter({"find": 3}),
    }
    units = {UNITS["query-api"]: 1000, UNITS["command-api"]: 20, UNITS["projectors"]: 80}
    rows = {r["process"]: r for r in operations_table(operations, units)}
    assert rows["query-api"]["per_unit"] == 0.1
    assert rows["command-api"]["per_unit"] == 1.95 and len(rows["command-api"]["top"]) == 4
    assert rows["command-api"]["top"]["insert"] == 30
    assert rows["projectors"]["per_unit"] == 0.5 and rows["workers"]["per_unit"] == 0.05
    assert rows["elsewhere"]["unit"] is None and rows["elsewhere"]["per_unit"] is None


def test_work_figures_name_the_units_from_the_record():
    work = Work({"command-api": Counter({"insert": 30, "update": 5})}, {"command-api": 4.0}, 10.0, 5.0)
    by_name = {"POST /v1/orders 202": 20, "POST /v1/orders 409": 3, "GET /v1/products 200": 100}
    figures = work_figures(work, cores=2, reads=100, accepted=accepted_commands(by_name), events=80)
    assert figures["accepted_commands"] == 20
    [row] = figures["operations_per_unit"]
    assert row["per_unit"] == 1.75 and row["units"] == 20
    assert figures["cpu"]["processes"][0]["of_one_core"] == 0.8


def test_the_tables_render_one_row_per_process_and_the_machine_rows():
    table = cpu_table({"workers": 3.0}, machine=5.0, wall=10.0, cores=2)
    text = "\n".join(cpu_lines(table))
    assert "| workers | 3.0 | 30.0% | 15.0% | 100.0% |" in text
    assert "| not attributed (machine − listed) | 2.0 | 20.0% | 10.0% | 66.7% |" in text
    rows = operations_table({"projectors": Counter({"update": 8})}, {"event": 4})
    assert "| projectors | 8: update 8 | 2.00 per event, over 4 |" in operations_lines(rows)


@pytest.mark.parametrize(
    ("url", "port"),
    [
        ("mongodb://127.0.0.1:27341/db", 27341),
        ("127.0.0.1:9092,127.0.0.1:9093", 9092),
        ("redis://127.0.0.1:6379/0", 6379),
        ("http://127.0.0.1:8001", 8001),
        ("smtp://127.0.0.1:1025", 1025),
        (None, None),
        ("http://127.0.0.1", None),
    ],
)
def test_a_server_is_found_by_the_port_the_run_talks_to(url, port):
    assert port_of(url) == port


def test_a_forking_server_is_named_by_its_root_listener():
    assert root_listener({200: 100, 201: 200, 202: 200}) == 200  # uvicorn --workers: parent + children
    assert root_listener({300: 1}) == 300
    assert root_listener({}) is None


def test_a_listening_process_is_found_by_its_port_and_named_by_the_url_given():
    import os
    import socket

    from loadtests.processes import listener_pid, service_pids

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert listener_pid(port) == os.getpid()
        assert service_pids({"query-api": f"http://127.0.0.1:{port}", "workers": None}) == {"query-api": os.getpid()}
    assert listener_pid(port) is None


def test_the_servers_are_looked_for_on_the_ports_the_run_uses():
    from infra.servers import postgresql
    from loadtests.processes import server_ports

    env = {
        "MONGODB_URL": "mongodb://127.0.0.1:27341",
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "SMTP_URL": "smtp://127.0.0.1:1025",
    }
    assert server_ports(env) == {
        "ferretdb": 27341,
        "postgresql": postgresql.PORT,
        "kafka": 9092,
        "redis": 6379,
        "smtp": 1025,
    }


def _loop_metrics(ticks: int, within_10ms: int, within_50ms: int, full_gcs: int, full_gc_s: float) -> str:
    return f"""\
merchant_event_loop_lag_seconds_bucket{{le="0.001"}} {within_10ms // 2}.0
merchant_event_loop_lag_seconds_bucket{{le="0.01"}} {within_10ms}.0
merchant_event_loop_lag_seconds_bucket{{le="0.05"}} {within_50ms}.0
merchant_event_loop_lag_seconds_bucket{{le="+Inf"}} {ticks}.0
merchant_event_loop_lag_seconds_count {ticks}.0
merchant_event_loop_lag_seconds_sum {ticks / 100}
merchant_gc_pause_seconds_count{{generation="0"}} 40.0
merchant_gc_pause_seconds_sum{{generation="0"}} 0.02
merchant_gc_pause_seconds_count{{generation="2"}} {full_gcs}.0
merchant_gc_pause_seconds_sum{{generation="2"}} {full_gc_s}
"""


def test_the_stalls_of_a_service_are_its_late_ticks_and_gc_passes_between_two_readings():
    before = stalls(_loop_metrics(60, 58, 60, 1, 0.1))
    after = stalls(_loop_metrics(100, 90, 97, 3, 0.3))
    assert after["ticks"] == 100 and after["late_10ms"] == 10 and after["late_50ms"] == 3
    assert after["gc2"] == 3 and after["gc2_s"] == 0.3 and after["lag_s"] == 1.0
    row = stalls_table({"query-api": counters_between(after, before)})[0]
    assert (row["ticks"], row["late_10ms"], row["late_50ms"], row["lag_seconds"]) == (40, 8, 3, 0.4)
    assert row["gc"] == {"0": {"passes": 0, "seconds": 0.0}, "2": {"passes": 2, "seconds": 0.2}}
    assert "| query-api | 40 | 8 | 3 | 0.40 | gen0 0 (0.00), gen2 2 (0.20) |" in stalls_lines([row])
