"""The projector's entry points: the FastStream app (one batch subscriber per stream), the
stream table (``streams``: topic → fold → collections → derived writers, the wiring),
rebuilding a read model from the event store and projection lag (the CLI's)."""
