"""The command side's adapters: MongoDB (event store, idempotency keys, reservations, SKU
registry, merchants' API keys) and Kafka (the publisher and outbox relay).

Store-specific behaviour (FerretDB or MongoDB quirks) lives here and nowhere above.
"""
