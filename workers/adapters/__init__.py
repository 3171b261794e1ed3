"""The workers' adapters: SMTP (``smtp``), SMS providers, the send-once records
(``dedupe``, MongoDB), the report file store (MongoDB chunks) and queue health read from
Kafka offsets and heartbeats (``ops``)."""
