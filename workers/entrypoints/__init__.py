"""The worker process's entry points: the FastStream app (``app``: the composition root and
every subscriber), the ``activity`` subscriber and the ops endpoint with heartbeats."""
