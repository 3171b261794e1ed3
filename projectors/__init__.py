"""Projectors: consume domain events, keep denormalised MongoDB read models.

Layers, each importing only those below it (``make check``): ``domain`` (one module per
read model: pure ``event -> document`` folds) → ``application`` (the engine that applies
a batch exactly once, in per-aggregate order; ``ports`` names the writer it needs) →
``adapters`` (MongoDB: newer-version writers, derived read models, indexes, explain) →
``entrypoints`` (the FastStream app, the stream table that wires folds to collections,
rebuilds and lag). Imports ``shared`` only, never ``command_api``.
"""
