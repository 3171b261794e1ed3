"""The command side's use cases: commands, one short handler per command, the repository
(load, decide, append), order placement across aggregates, idempotency, merchants, and
the relay with its settlement of unfinished placements and cancels.

Imports the domain and ``ports`` only; the stores behind the ports are adapters, built and
injected by ``command_api.entrypoints.bootstrap``.
"""
