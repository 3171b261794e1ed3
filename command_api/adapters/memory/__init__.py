"""In-memory twins of the MongoDB adapters, for unit tests and for trying the command
side without servers. Same contracts (``tests/contracts/`` runs one suite against both),
no durability: a process holds its own store.
"""
