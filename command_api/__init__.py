"""The write side: endpoints → commands → handlers → domain → event store → Kafka.

Layers, each importing only those below it (``make check``): ``domain`` (pure
aggregates) → ``application`` (commands, handlers, repository, placement; ``ports``
names what it needs) → ``adapters`` (MongoDB, Kafka) → ``entrypoints`` (the app, HTTP)
and, beside them, ``seeding`` (the seeder drives the domain and the adapters).
"""
