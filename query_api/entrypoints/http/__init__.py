"""Pure-ASGI middleware of the query API (each wraps ``send`` at most; none buffers a cached
response)."""
