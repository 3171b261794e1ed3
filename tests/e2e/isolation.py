"""A database and topics of one test's own, for tests that start and kill their own
command API processes (the session's stack must not relay their commits)."""

from __future__ import annotations

import uuid
from collections import defaultdict

from shared import mongo
from shared.events import EventEnvelope
from shared.kafka import delete_topics_with_prefix, ensure_topics
from shared.settings import ServerSettings
from shared.topics import DOMAIN_TOPICS, TOPIC_BY_AGGREGATE

from tests.support.kafka_events import read_topic


class Namespace:
    def __init__(self, base_env: dict[str, str], **overrides: str) -> None:
        name = f"test_{uuid.uuid4().hex[:12]}"
        self.env = {**base_env, "MONGODB_DATABASE": name, "KAFKA_TOPIC_PREFIX": f"{name}.", **overrides}
        self.settings = ServerSettings(**{k.lower(): v for k, v in self.env.items()})
        self.client = mongo.open_mongo(self.settings)
        self.db = mongo.database(self.client, self.settings)

    async def open(self) -> Namespace:
        await ensure_topics(self.settings)
        return self

    async def close(self) -> None:
        try:
            await delete_topics_with_prefix(self.settings)
        finally:
            await self.client.drop_database(self.settings.mongodb_database)
            await self.client.close()

    async def unpublished(self) -> int:
        """Commits not yet published: their outbox entries (``command_api.adapters.outbox``)."""
        return await self.db["outbox"].count_documents({})

    async def stored_events(self) -> dict[str, list[EventEnvelope]]:
        """Every event in the store, by aggregate, in version order."""
        by_aggregate: dict[str, list[EventEnvelope]] = defaultdict(list)
        async for commit in self.db["commits"].find().sort([("aggregate_id", 1), ("version", 1)]):
            if commit["events"]:  # an outcome (a stored answer) holds none
                by_aggregate[commit["aggregate_id"]] += [EventEnvelope.model_validate(e) for e in commit["events"]]
        return by_aggregate

    async def kafka_events(self, at_least: dict[str, int], timeout: float = 60.0) -> dict[str, list[EventEnvelope]]:
        """Every event on the domain topics (``at_least``: topic -> how many to wait for),
        by aggregate, in the order Kafka holds them."""
        by_aggregate: dict[str, list[EventEnvelope]] = defaultdict(list)
        for topic in DOMAIN_TOPICS:
            wanted = at_least.get(topic, 0)
            records = await read_topic(
                self.settings.kafka_bootstrap_servers,
                self.settings.topic(topic),
                lambda rs, n=wanted: len(rs) >= n,
                timeout=timeout,
            )
            for record in records:
                envelope = EventEnvelope.from_json(record.value)
                assert record.key == envelope.aggregate_id.encode()
                by_aggregate[envelope.aggregate_id].append(envelope)
        return by_aggregate

    async def expected_per_topic(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for events in (await self.stored_events()).values():
            counts[TOPIC_BY_AGGREGATE[events[0].aggregate_type]] += len(events)
        return counts
