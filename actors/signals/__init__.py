"""Signal sources: the built-in strategy and the external JSON-lines inbox."""
