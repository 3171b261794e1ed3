"""The read cache: L1 in-process → L2 Redis → L3 MongoDB, invalidated by projector events.

``entry``: a cached response body (plain and per content coding, with its ETag) — a hit
serialises nothing. ``epochs``: local invalidation counters per (collection, merchant),
bumped by ``subscriber``; ``pages``: what a cached list page covers, so a change drops only
the pages it affects.
``l1``/``l2``: the two levels; ``single_flight``: one load per cold key; ``two_level``: the
cache itself; ``stats``: hit/miss counters per level.
"""
