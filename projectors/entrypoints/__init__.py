"""The projector's entry points: the composition root (``bootstrap``), the FastStream app
(one batch subscriber per stream), the stream table (``streams``: topic → fold →
collections → derived views, the wiring), rebuilding a read model from the event store,
and lag with the time left to catch up (the CLI's)."""
