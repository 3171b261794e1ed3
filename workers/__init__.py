"""Workers: FastStream consumers for email, SMS, reports, analytics, audit, cache warm-up.

Layers, each importing only those below it (``make check``): ``application`` (jobs and
their delivery policy, dispatch from domain events, one module per job kind; ``ports``
names what the handlers need) → ``adapters`` (SMTP, SMS providers, the send-once
records, the report file store, queue health from Kafka) → ``entrypoints`` (the
FastStream app and its subscribers, the ops endpoint).
"""
