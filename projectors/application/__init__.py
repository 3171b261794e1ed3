"""The projection engine: a batch of events applied exactly once, in per-aggregate order
(``engine``, ``folding``), the derived read models kept by delta (``derived``, ``compose``)
and merchant names across streams, through the ports of ``ports`` (never an adapter)."""
