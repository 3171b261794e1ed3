"""One module per read model: pure ``evolve(state, event, data) -> state`` folds and the
views derived from them, testable without MongoDB. An event a fold cannot apply raises
``errors.Unprojectable`` (it is dead-lettered)."""
