"""``merchant seed``: realistic merchants, catalogues and order histories, written through
the write side's own domain code, event store and Kafka envelopes (docs/seeding.md).

- ``vocabulary``: names, categories, prices, customers (pure, seeded);
- ``plan``: what a run is asked for and what the simulation hands over;
- ``lifecycle``: what happens to an order after it is placed;
- ``simulation``: the history as a discrete-event simulation over the real aggregates;
- ``writer``: appends the simulation's commits and publishes their events, resumably.
"""
