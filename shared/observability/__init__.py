"""Operability: Prometheus metrics, the memory monitor, correlated JSON logs, production mode.

- ``metrics``     every metric the processes export (one registry module: call from anywhere)
- ``http``        pure-ASGI request metrics, ``/metrics`` and ``/ops/memory`` for Starlette apps
- ``stream``      the same for FastStream apps (projectors, workers) on a metrics port
- ``memory``      RSS sampling, trend, leak rule, tracemalloc snapshots and diffs
- ``runtime``     event-loop lag probe, GC pause timing, the monitors' background task
- ``logs``        JSON log lines carrying the correlation id of the request or event
- ``mongo_monitoring``  pymongo listeners: pool size / in use, command latency
- ``production``  what ``MERCHANT_ENV=production`` changes (pools, compression, gc.freeze)
"""
