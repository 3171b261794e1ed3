"""The ``merchant`` command line: one sub-module per command group.

The front door: it imports the services (and ``infra``) to run and operate them, and
nothing in the product imports it (``make check`` enforces both directions). The
analysts' tools that need pyarrow or rich live here too (``event_tools``), so the
contracts in ``shared`` stay free of them.
"""
