"""The product's processes started for a test session: command API, query API, projectors...

Each component is ``merchant serve <component>`` in its own process group, against the
session's servers, database and topics; HTTP components get a free port and are ready
when ``/health/ready`` answers 200.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from merchant_testkit.processes import Service, http_service, stream_service

HTTP_COMPONENTS = ("command-api", "query-api")
DEFAULT_COMPONENTS = ("command-api", "query-api", "projectors")
# Functional suites and load runs drive one merchant's keys, from one address, far beyond
# what a deployment allows a key or a storefront (100 concurrent orders with one
# publishable key): they raise every rate limit with this, and tests/security checks the
# limits at their real values (docs/security.md).
_BUDGETS = ("PER_SECOND", "BURST", "AUTH_FAILURES_PER_SECOND", "AUTH_FAILURES_BURST")
NO_RATE_LIMITS = {
    **{f"QUERY_API_RATE_LIMIT_{budget}": "1000000" for budget in _BUDGETS},
    **{f"COMMAND_API_RATE_LIMIT_{budget}": "1000000" for budget in (*_BUDGETS, "ORDERS_PER_SECOND", "ORDERS_BURST")},
}
# Fast relay in tests: a commit left unpublished is retried within a second.
# CI shares two cores: a slow command should not turn into a 503 there.
DEFAULT_ENV = {
    "PROJECTOR_GROUP_ID": "projectors",
    "COMMAND_API_RELAY_INTERVAL_SECONDS": "0.5",
    "COMMAND_API_RELAY_GRACE_SECONDS": "1",
    "COMMAND_API_COMMAND_TIMEOUT_SECONDS": "30",
    "COMMAND_API_STORE_TIMEOUT_SECONDS": "20",
    "QUERY_API_STORE_TIMEOUT_SECONDS": "20",
    **NO_RATE_LIMITS,
}


@dataclass
class Stack:
    by_component: dict[str, Service]

    @property
    def services(self) -> list[Service]:
        return list(self.by_component.values())

    @property
    def command_api(self) -> Service:
        return self.by_component["command-api"]

    @property
    def query_api(self) -> Service:
        return self.by_component["query-api"]

    @property
    def projectors(self) -> Service:
        return self.by_component["projectors"]

    def __getitem__(self, component: str) -> Service:
        return self.by_component[component]

    def stop(self) -> None:
        for service in self.services:
            service.stop()


def start_stack(
    components: tuple[str, ...], server_env: dict[str, str], log_dir: Path, extra_env: dict[str, str] | None = None
) -> Stack:
    """Start the components, wait until each is ready; stop them all if one fails."""
    env = {**server_env, **DEFAULT_ENV, **(extra_env or {})}
    services = {c: (http_service if c in HTTP_COMPONENTS else stream_service)(c, c, env, log_dir) for c in components}
    if "query-api" in services:
        env["QUERY_API_URL"] = services["query-api"].url  # the command API's Location header
    stack = Stack(services)
    try:
        for service in stack.services:
            service.start()
        for service in stack.services:
            service.wait_ready()
    except BaseException:
        stack.stop()
        raise
    return stack
