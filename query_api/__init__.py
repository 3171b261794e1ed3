"""The read side: endpoints → queries → cache → read models. Imports ``shared`` only.

Layers, each importing only those below it (``make check``): ``application`` (the
queries and the filters they use, pagination, parameters, views, read-your-writes,
stats; ``ports`` names what it hands to the cache) → ``adapters`` (the L1/L2 cache over
Redis, the content encoders, indexes) → ``entrypoints`` (the app, the endpoints, the
pure-ASGI middleware, responses, the OpenAPI document). The read side has no domain of
its own: it serves the projectors' documents.
"""
