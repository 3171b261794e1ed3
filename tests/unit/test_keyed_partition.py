"""The producer's partitioner: the same partition as aiokafka's default for every key
(consumers and other producers rely on murmur2), whether its hash is remembered or not."""

from __future__ import annotations

import uuid

from aiokafka.partitioner import DefaultPartitioner

from shared.kafka import keyed_partition, reliable_producer
from shared.settings import ServerSettings


def test_every_key_goes_where_the_default_partitioner_puts_it():
    default = DefaultPartitioner()
    keys = [str(uuid.uuid4()).encode() for _ in range(500)] + [b"", b"a", "é".encode()]
    for count in (1, 3, 6, 12):
        partitions = list(range(count))
        for key in keys + keys:  # the second time from the remembered hash
            assert keyed_partition(key, partitions, partitions) == default(key, partitions, partitions)


def test_a_message_without_key_goes_to_an_available_partition():
    assert keyed_partition(None, [0, 1, 2], [2]) == 2


async def test_the_domain_producer_uses_it():
    producer = reliable_producer(ServerSettings(kafka_bootstrap_servers="127.0.0.1:1"))  # not started: no I/O
    assert producer._partitioner is keyed_partition


def test_the_remembered_key_hashes_stay_within_their_bound():
    from shared import kafka

    kafka._key_hash.cache_clear()
    for i in range(kafka.KEY_HASHES + 500):
        keyed_partition(f"order-{i}".encode(), [0, 1, 2], [0, 1, 2])
    assert kafka._key_hash.cache_info().currsize == kafka.KEY_HASHES
