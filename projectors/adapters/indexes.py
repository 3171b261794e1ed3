"""The read-model indexes are declared and created in ``shared.read_model_indexes`` (the
query API creates the same list at its start); re-exported here for the projectors."""

from shared.read_model_indexes import PROBE, ensure_read_model_indexes, index_model, supports_partial_indexes  # noqa: F401
