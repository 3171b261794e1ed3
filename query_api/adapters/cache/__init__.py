"""The read cache: L1 in-process → L2 Redis → L3 MongoDB, invalidated by projector events.

``entry``: a cached response body (plain and per content coding, with its ETag) — a hit
serialises nothing. ``epochs``: local invalidation counters per (collection, merchant),
bumped by ``subscriber``, which drops only the pages a change affects
(``query_api.application.pages`` says which).
``l1``/``l2``: the two levels; ``single_flight``: one load per cold key; ``two_level``: the
cache itself; ``stats``: hit/miss counters per level.
"""
