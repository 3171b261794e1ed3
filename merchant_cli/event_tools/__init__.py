"""The analysts' tools behind ``merchant events``: Parquet/JSON Lines export (pyarrow),
a readable live view of the topics (rich) and the catalogue served as a page.

They read the contracts of ``shared.events`` and the event store through
``shared.event_store_reader``; no service imports them.
"""
