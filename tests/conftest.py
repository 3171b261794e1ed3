"""Fixtures shared by every suite. Unit tests use none of the server fixtures."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from shared.settings import ServerSettings
from tests.support import servers as server_support


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


@pytest.fixture(scope="session")
async def settings(server_env) -> AsyncIterator[ServerSettings]:
    from shared.kafka import delete_topics_with_prefix, ensure_topics

    settings = ServerSettings(**{k.lower(): v for k, v in server_env.items()})
    await ensure_topics(settings)
    yield settings
    await delete_topics_with_prefix(settings)


@pytest.fixture(scope="session")
async def mongo_db(settings) -> AsyncIterator:
    from shared import mongo

    client = mongo.open_mongo(settings)
    db = mongo.database(client, settings)
    yield db
    await client.drop_database(settings.mongodb_database)
    await client.close()
