"""The read-model indexes are declared and created in ``shared.read_model_indexes`` (the
query API creates the same list at its start); re-exported here for the projectors."""

from shared.read_model_indexes import PROBE as PROBE
from shared.read_model_indexes import ensure_read_model_indexes as ensure_read_model_indexes
from shared.read_model_indexes import index_model as index_model
from shared.read_model_indexes import supports_partial_indexes as supports_partial_indexes
