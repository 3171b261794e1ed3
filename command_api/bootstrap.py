"""The composition root: ``bootstrap(settings)`` builds the whole command side, typed.

Every process and tool that runs the write side gets it from here — the HTTP app's
lifespan, ``merchant serve outbox-relay``, ``merchant merchants``, the seeder, the test
kit and the tests — so there is one place that says what the command side is made of:
``CommandSide``. ``bootstrap`` wires the MongoDB and Kafka adapters;
``bootstrap_in_memory`` wires their in-memory twins (unit tests, no servers).

Building does no I/O. ``prepare()`` creates the indexes; ``running()`` also starts the
publisher's task and the relay, and stops them (and closes what it opened) on the way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from shared import mongo
from shared.http.auth import KeyResolver, PrincipalResolver
from shared.settings import CommandApiSettings

from command_api.adapters.api_keys import ApiKeys
from command_api.adapters.event_store import EventStore
from command_api.adapters.memory.api_keys import InMemoryApiKeys
from command_api.adapters.memory.event_store import InMemoryEventStore
from command_api.adapters.memory.parking import InMemoryParking
from command_api.adapters.memory.publisher import InMemoryPublisher
from command_api.adapters.memory.sku_registry import InMemorySkuRegistry
from command_api.adapters.parking import Parking
from command_api.adapters.publisher import CommitPublisher
from command_api.adapters.sku_registry import SkuRegistry
from command_api.application.expiry import Expirer
from command_api.application.handlers import Services
from command_api.application.idempotency import InFlight
from command_api.application.merchants import MerchantAccounts
from command_api.application.ports import (
    ApiKeysPort,
    EventStorePort,
    ExpiryPort,
    OutboxPort,
    ParkingPort,
    PublisherPort,
    SkuRegistryPort,
)
from command_api.application.relay import Relay
from command_api.application.repository import Repository
from command_api.application.settlement import Settlement


async def _nothing() -> None:
    return None


async def _always() -> bool:
    return True


@dataclass(frozen=True)
class Resources:
    """What the side opens and closes; store-specific, so built with the adapters."""

    prepare: Callable[[], Awaitable[None]] = _nothing  # indexes
    start: Callable[[], Awaitable[None]] = _nothing  # background tasks of the adapters
    stop: Callable[[], Awaitable[None]] = _nothing  # ... and the clients it opened
    ping: Callable[[], Awaitable[bool]] = _always  # readiness: the store answers


@dataclass(frozen=True)
class CommandSide:
    settings: CommandApiSettings
    store: EventStorePort
    outbox: OutboxPort
    parking: ParkingPort
    publisher: PublisherPort
    skus: SkuRegistryPort
    api_keys: ApiKeysPort
    keys: PrincipalResolver
    repository: Repository
    services: Services
    merchants: MerchantAccounts
    relay: Relay
    expirer: Expirer
    in_flight: InFlight
    resources: Resources

    async def prepare(self) -> None:
        await self.resources.prepare()

    async def close(self) -> None:
        await self.resources.stop()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[CommandSide]:
        """Indexes, the publisher's task, the relay and the expirer, for as long as the block runs."""
        await self.prepare()
        await self.resources.start()
        tasks = [asyncio.create_task(self.relay.run_forever(), name="outbox-relay")]
        if self.settings.order_expiry_seconds > 0:
            tasks.append(asyncio.create_task(self.expirer.run(), name="order-expiry"))
        try:
            yield self
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self.close()


def _assemble(
    settings: CommandApiSettings,
    *,
    store: EventStorePort,
    outbox: OutboxPort,
    placements: ExpiryPort,
    parking: ParkingPort,
    publisher: PublisherPort,
    skus: SkuRegistryPort,
    api_keys: ApiKeysPort,
    keys: PrincipalResolver,
    resources: Resources,
) -> CommandSide:
    repository = Repository(store, publisher, cache_size=settings.aggregate_cache_size)
    settlement = Settlement(repository, store, ttl=settings.reservation_ttl_seconds)
    relay = Relay(
        outbox,
        publisher,
        settlement,
        parking,
        interval=settings.relay_interval_seconds,
        grace=settings.relay_grace_seconds,
    )
    services = Services(repository=repository, store=store, skus=skus, publisher=publisher)
    expirer = Expirer(
        placements, services, after=settings.order_expiry_seconds, interval=settings.relay_interval_seconds
    )
    return CommandSide(
        settings=settings,
        store=store,
        outbox=outbox,
        parking=parking,
        publisher=publisher,
        skus=skus,
        api_keys=api_keys,
        keys=keys,
        repository=repository,
        services=dataclasses.replace(services, order_placed=expirer.placed),
        merchants=MerchantAccounts(repository, api_keys),
        relay=relay,
        expirer=expirer,
        in_flight=InFlight(),
        resources=resources,
    )


def bootstrap(
    settings: CommandApiSettings | None = None, *, db: AsyncDatabase[dict[str, Any]] | None = None
) -> CommandSide:
    """The command side on MongoDB and Kafka. With ``db`` it uses that database (and
    leaves its client open); else it opens a client of its own (closed by ``close``)."""
    settings = settings or CommandApiSettings()
    client = mongo.open_mongo(settings, timeout=settings.store_timeout_seconds) if db is None else None
    database = db if client is None else mongo.database(client, settings)
    assert database is not None
    store = EventStore(database, orphan_grace=settings.outbox_orphan_grace_seconds)
    api_keys = ApiKeys(database)
    publisher = CommitPublisher(settings, store, immediate=settings.immediate_publish)

    async def prepare() -> None:
        await store.create_indexes()
        await api_keys.create_indexes()

    async def stop() -> None:
        await publisher.stop()
        if client is not None:
            await client.close()

    async def ping() -> bool:
        return await mongo.ping(database.client)

    side = _assemble(
        settings,
        store=store,
        outbox=store,
        placements=store,
        parking=Parking(database),
        publisher=publisher,
        skus=SkuRegistry(database),
        api_keys=api_keys,
        keys=KeyResolver(database),
        resources=Resources(prepare=prepare, start=publisher.start, stop=stop, ping=ping),
    )
    publisher.on_activity = side.relay.nudge
    return side


def bootstrap_in_memory(
    settings: CommandApiSettings | None = None, *, store: InMemoryEventStore | None = None
) -> CommandSide:
    """The command side on the in-memory adapters: no servers, no durability. ``store``:
    one to share (two sides on one store stand for two processes on one database)."""
    settings = settings or CommandApiSettings()
    store = store or InMemoryEventStore()
    api_keys = InMemoryApiKeys()
    publisher = InMemoryPublisher(store)
    side = _assemble(
        settings,
        store=store,
        outbox=store,
        placements=store,
        parking=InMemoryParking(),
        publisher=publisher,
        skus=InMemorySkuRegistry(store),
        api_keys=api_keys,
        keys=api_keys,
        resources=Resources(),
    )
    publisher.on_activity = side.relay.nudge
    return side
