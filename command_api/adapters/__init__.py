"""The command side's adapters: MongoDB (event store and outbox, SKU registry, API keys;
writes group-committed by ``group_commit``), Kafka (the publisher), and their in-memory
twins (``memory``).

Store-specific behaviour (FerretDB or MongoDB quirks) lives here and nowhere above.
"""
