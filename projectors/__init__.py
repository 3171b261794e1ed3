"""Projectors: consume domain events, keep denormalised MongoDB read models.

Layers, each importing only those below it (``make check``): ``domain`` (one module per
read model: pure ``event -> document`` folds and contributions to derived views) →
``application`` (the engine that applies a batch exactly once, in per-aggregate order, and
keeps derived views by delta; ``ports`` names the store it needs) → ``adapters`` (MongoDB
and in-memory stores, newer-version writers, indexes, explain) → ``entrypoints`` (the
composition root, the FastStream app, the stream table, rebuilds, lag and ETA). Imports
``shared`` only, never ``command_api``.
"""
