"""The command side's use cases: commands, one short handler per command, the repository
(load, decide, append), order placement across aggregates and its reconciler.

Imports the domain and ``ports`` only; the stores behind the ports are adapters, built and
injected by the entry points (``command_api.entrypoints.app``).
"""
