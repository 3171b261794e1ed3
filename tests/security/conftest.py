"""The security suite (issue #17): each test attacks the running product over HTTP, the
way an outsider would, against the real servers.

The suite runs its own processes — a "guarded" command API, query API and projectors —
on a namespace of its own (database, topics, Redis prefix), configured as docs/security.md
says a deployment is: an ops token, a cursor secret of its own, a storefront origin
allowed by CORS, and budgets small enough to reach in a test (the per-key and
publishable-key order budgets; the failed-authentication budget keeps its documented
default). Tests that exhaust a per-process budget, or need a process of their own, start
one (``api_process``). Each test uses merchants of its own (``new_merchant``).
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families

from merchant_testkit.plugin import namespace_database, namespace_settings
from merchant_testkit.processes import Service, http_service
from merchant_testkit.stack import Stack, start_stack

OPS_TOKEN = secrets.token_urlsafe(24)
CURSOR_SECRET = secrets.token_urlsafe(32)
SHOP_ORIGIN = "https://shop.example"
# What a deployment sets (docs/security.md), with budgets a test can reach.
GUARDED_ENV = {
    "MERCHANT_OPS_TOKEN": OPS_TOKEN,
    "QUERY_API_CURSOR_SECRET": CURSOR_SECRET,
    "COMMAND_API_CORS_ALLOW_ORIGINS": SHOP_ORIGIN,
    "COMMAND_API_RATE_LIMIT_ORDERS_PER_SECOND": "0.1",
    "COMMAND_API_RATE_LIMIT_ORDERS_BURST": "3",
    "COMMAND_API_RATE_LIMIT_PER_SECOND": "2",
    "COMMAND_API_RATE_LIMIT_BURST": "40",
}


@pytest.fixture(scope="session")
def security_env(servers) -> dict[str, str]:
    return servers.env(f"sec_{uuid.uuid4().hex[:12]}")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def security_settings(security_env) -> AsyncIterator:
    async with namespace_settings(security_env) as settings:
        yield settings


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def security_db(security_settings) -> AsyncIterator:
    async with namespace_database(security_settings) as db:
        yield db


@pytest.fixture(scope="session")
def guarded(security_env, security_settings, tmp_path_factory) -> Iterator[Stack]:
    stack = start_stack(
        ("command-api", "query-api", "projectors"),
        security_env,
        tmp_path_factory.mktemp("guarded"),
        GUARDED_ENV,
    )
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def api_process(security_env, security_settings, guarded, tmp_path) -> Iterator[Callable[..., Service]]:
    """``api_process("query-api", **env)``: one more API process of the namespace, ready."""
    started: list[Service] = []

    def start(component: str, **env: str) -> Service:
        merged = {**security_env, **GUARDED_ENV, "QUERY_API_URL": guarded.query_api.url, **env}
        service = http_service(f"{component}-{len(started)}", component, merged, tmp_path)
        started.append(service)
        return service.start().wait_ready(timeout=60)

    yield start
    for service in started:
        service.stop()


@pytest.fixture
def new_merchant(security_db) -> Callable:
    """``await new_merchant()``: a merchant of its own, ``{merchant_id, secret_key, publishable_key}``."""
    from command_api.bootstrap import bootstrap

    async def make() -> dict:
        side = bootstrap(db=security_db)  # the write side as the API builds it
        await side.prepare()
        created = await side.merchants.create(f"Sec Shop {uuid.uuid4().hex[:6]}")
        return {
            "merchant_id": created.merchant_id,
            "secret_key": created.secret_key,
            "publishable_key": created.publishable_key,
        }

    return make


@pytest_asyncio.fixture
async def command(guarded) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=guarded.command_api.url, timeout=30) as client:
        yield client


@pytest_asyncio.fixture
async def query(guarded) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=guarded.query_api.url, timeout=30) as client:
        yield client


async def mongodb_commands(service: Service, command: str | None = None) -> float:
    """How many MongoDB commands the process has sent (``command``: of that name), from
    its ops listener's ``mongodb_command_duration_seconds_count``."""
    async with httpx.AsyncClient(timeout=10, headers={"Authorization": f"Bearer {OPS_TOKEN}"}) as client:
        text = (await client.get(f"{service.ops_url}/metrics")).raise_for_status().text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "mongodb_command_duration_seconds_count"
        and (command is None or sample.labels.get("command") == command)
    )


async def eventually(check: Callable, timeout: float = 30.0, interval: float = 0.1):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result or asyncio.get_running_loop().time() > deadline:
            return result
        await asyncio.sleep(interval)


def log_of(service: Service) -> str:
    return Path(service.log_path).read_text(errors="replace")
