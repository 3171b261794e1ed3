"""Projectors: consume domain events, keep denormalised MongoDB read models.

One module per read model with pure ``event -> update`` functions; ``app.py`` wraps them
in FastStream subscribers. Imports ``shared`` only, never ``command_api``.
"""
