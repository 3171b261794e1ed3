"""HTTP endpoints: turn a request into a command, run its handler, answer 202."""
