"""One module per read model: pure ``evolve(state, event, data) -> state`` folds, the views
derived from them, and what each state contributes to the derived read models
(``contributions``), testable without MongoDB. An event a fold cannot apply raises
``errors.Unprojectable`` (it is dead-lettered)."""
