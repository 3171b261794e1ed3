"""What the memory tools (``loadtests.query_memory``, ``loadtests.command_memory``) share:
the process's RSS, and the settings of a service run in process on a namespace of its
own, every rate limit out of the way (one client sends everything)."""

from __future__ import annotations

import os
import tracemalloc
from typing import Any

UNLIMITED = {
    "rate_limit_per_second": 1e6,
    "rate_limit_burst": 10**6,
    "rate_limit_auth_failures_per_second": 1e6,
    "rate_limit_auth_failures_burst": 10**6,
}


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def own_namespace(namespace: str, **overrides: Any) -> dict[str, Any]:
    """Settings values for a service on the shared servers (``merchant infra env``), in
    its own database and topics, without rate limits; ``overrides`` win."""
    env = os.environ
    return {
        "mongodb_url": env["MONGODB_URL"],
        "redis_url": env["REDIS_URL"],
        "kafka_bootstrap_servers": env["KAFKA_BOOTSTRAP_SERVERS"],
        "mongodb_database": namespace,
        "kafka_topic_prefix": namespace + ".",
        **UNLIMITED,
        **overrides,
    }


def print_growth(last: tracemalloc.Snapshot, first: tracemalloc.Snapshot, lines: int = 25, tracebacks: int = 6) -> None:
    """The allocation sites that grew most from ``first`` to ``last``: by line, then the
    top few with their tracebacks."""
    for stat in last.compare_to(first, "lineno")[:lines]:
        print(stat)
    print(f"--- by traceback (top {tracebacks})")
    for stat in last.compare_to(first, "traceback")[:tracebacks]:
        print(stat)
        for line in stat.traceback.format()[-14:]:
            print("   ", line)
