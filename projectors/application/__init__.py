"""The projection engine: a batch of events applied exactly once, in per-aggregate order,
through the writer named in ``ports`` (never an adapter)."""
