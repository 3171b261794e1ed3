"""The ``merchant`` command line: one sub-module per command group."""
