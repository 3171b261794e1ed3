"""The pytest plugin (entry point ``pytest11``): real servers and the running product.

Session fixtures, in dependency order:
- ``servers``     where Kafka, MongoDB, Redis and SMTP are (env vars → testcontainers →
                  local ``merchant infra`` servers; fails under CI=true if none);
- ``namespace``   a unique name: the session's database and Kafka topic prefix;
- ``server_env``  the environment for processes under test (``KAFKA_TOPIC_PREFIX`` ...);
- ``settings``    ``ServerSettings`` for that environment; creates the topics, deletes
                  them at the end;
- ``mongo_db``    the session's database (dropped at the end);
- ``stack_components`` / ``stack_env``  override to choose what ``stack`` runs;
- ``stack``       the product's processes (``merchant serve ...``), ready;
- ``merchant``    a merchant with its secret and publishable keys.
Per test: ``command_client``, ``query_client`` (httpx, on the stack), ``published_events``
(what reached the domain topics) and ``wait_for_projection`` (poll the query API until a
read model reaches a version).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio

from merchant_testkit import servers as server_support
from merchant_testkit.events import PublishedEvents
from merchant_testkit.stack import DEFAULT_COMPONENTS, Stack, start_stack
from merchant_testkit.waiting import wait_for_projection as wait_for_projection_


@pytest.fixture(scope="session")
def servers() -> Iterator[server_support.Servers]:
    found = server_support.resolve()
    yield found
    found.stop()


@pytest.fixture(scope="session")
def namespace() -> str:
    """Each test session has a database and Kafka topics of its own."""
    return f"test_{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def server_env(servers, namespace) -> dict[str, str]:
    return servers.env(namespace)


@contextlib.asynccontextmanager
async def namespace_settings(server_env: dict[str, str]) -> AsyncIterator:
    """Settings for one namespace: its topics created on entry, deleted on exit."""
    from shared.kafka import delete_topics_with_prefix, ensure_topics
    from shared.settings import ServerSettings

    settings = ServerSettings(**{k.lower(): v for k, v in server_env.items()})
    await ensure_topics(settings)
    yield settings
    await delete_topics_with_prefix(settings)


@contextlib.asynccontextmanager
async def namespace_database(settings) -> AsyncIterator:
    """The namespace's database, dropped on exit."""
    from shared import mongo

    client = mongo.open_mongo(settings)
    yield mongo.database(client, settings)
    await client.drop_database(settings.mongodb_database)
    await client.close()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def settings(server_env) -> AsyncIterator:
    async with namespace_settings(server_env) as settings:
        yield settings


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def mongo_db(settings) -> AsyncIterator:
    async with namespace_database(settings) as db:
        yield db


def own_namespace_fixtures() -> tuple:
    """Module-scoped ``server_env``, ``settings`` and ``mongo_db`` with a namespace of the
    module's own — for tests that read *everything* on their topics or in their database
    (a consumer group from offset 0, a whole-collection comparison), which other modules'
    events would otherwise reach. In the module: ``server_env, settings, mongo_db =
    own_namespace_fixtures()``."""

    @pytest.fixture(scope="module", name="server_env")
    def module_server_env(servers) -> dict[str, str]:
        return servers.env(f"test_{uuid.uuid4().hex[:12]}")

    @pytest_asyncio.fixture(scope="module", loop_scope="session", name="settings")
    async def module_settings(server_env) -> AsyncIterator:
        async with namespace_settings(server_env) as settings:
            yield settings

    @pytest_asyncio.fixture(scope="module", loop_scope="session", name="mongo_db")
    async def module_mongo_db(settings) -> AsyncIterator:
        async with namespace_database(settings) as db:
            yield db

    return module_server_env, module_settings, module_mongo_db


@pytest.fixture(scope="session")
def stack_components() -> tuple[str, ...]:
    """What ``stack`` runs; override in a conftest to add e.g. ``"workers"``."""
    return DEFAULT_COMPONENTS


@pytest.fixture(scope="session")
def stack_env() -> dict[str, str]:
    """Extra environment for the stack's processes; override to tune them."""
    return {}


@pytest.fixture(scope="session")
def stack(server_env, settings, stack_components, stack_env, tmp_path_factory) -> Iterator[Stack]:
    running = start_stack(stack_components, server_env, tmp_path_factory.mktemp("logs"), stack_env)
    try:
        yield running
    finally:
        running.stop()


async def _new_merchant(mongo_db, name: str) -> dict:
    from command_api.bootstrap import bootstrap

    side = bootstrap(db=mongo_db)  # the write side as the API builds it; its relay publishes the event
    await side.prepare()
    created = await side.merchants.create(f"{name} {uuid.uuid4().hex[:6]}")
    return {
        "merchant_id": created.merchant_id,
        "secret_key": created.secret_key,
        "publishable_key": created.publishable_key,
    }


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def merchant(mongo_db) -> dict:
    """A merchant with its keys: ``{merchant_id, secret_key, publishable_key}``."""
    return await _new_merchant(mongo_db, "Test Shop")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def other_merchant(mongo_db, merchant) -> dict:
    """A second merchant, for isolation tests (must never see the first one's data)."""
    return await _new_merchant(mongo_db, "Another Shop")


@pytest_asyncio.fixture
async def command_client(stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.command_api.url, timeout=10) as client:
        yield client


@pytest_asyncio.fixture
async def query_client(stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.query_api.url, timeout=10) as client:
        yield client


@pytest_asyncio.fixture
async def published_events(settings) -> AsyncIterator[PublishedEvents]:
    recorder = await PublishedEvents(settings).start()
    try:
        yield recorder
    finally:
        await recorder.stop()


@pytest.fixture
def wait_for_projection(query_client):
    """``await wait_for_projection("/v1/products/<id>", version=3)`` → the 200 response."""

    async def wait(path: str, version: int, *, timeout: float = 15.0, **request) -> httpx.Response:
        return await wait_for_projection_(query_client, path, version, timeout=timeout, **request)

    return wait
